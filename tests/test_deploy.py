"""The production stack's files, validated where Docker does not run: the compose file's
structure, its configuration against the settings, the Temporal setup against the search
attributes the workflow uses, and the compose tool's own `config` check when installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from domain import search_attributes as sa
from runtime.settings import Settings, reference
from tools.cli import app as cli

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict] = COMPOSE["services"]  # type: ignore[type-arg]
ONE_SHOT = {"temporal-setup", "migrate"}


def test_every_service_has_an_image_and_its_dependencies_exist() -> None:
    for name, svc in SERVICES.items():
        assert svc.get("image") or svc.get("build"), name
        for dep, cond in (svc.get("depends_on") or {}).items():
            assert dep in SERVICES, f"{name} depends on unknown {dep}"
            wanted = cond["condition"]
            if wanted == "service_healthy":
                assert "healthcheck" in SERVICES[dep], f"{dep} has no healthcheck"
            if wanted == "service_completed_successfully":
                assert dep in ONE_SHOT


def test_long_running_services_have_health_checks_and_restart() -> None:
    for name, svc in SERVICES.items():
        if name in ONE_SHOT:
            assert svc.get("restart") == "no", name
            continue
        assert "healthcheck" in svc, name
        assert svc.get("restart") == "unless-stopped", name


def test_named_volumes_are_declared() -> None:
    declared = set(COMPOSE["volumes"])
    for svc in SERVICES.values():
        for volume in svc.get("volumes", []):
            source = volume.split(":", 1)[0]
            if not source.startswith("."):
                assert source in declared, source
            else:
                assert (ROOT / source).exists(), source


def test_application_configuration_is_only_the_settings() -> None:
    known = {f"GONGFU_{name.upper()}" for name in Settings.model_fields}
    for name in ("api", "worker", "migrate"):
        env = SERVICES[name]["environment"]
        assert set(env) <= known, set(env) - known
        assert env["GONGFU_TEMPORAL_ADDRESS"] == "temporal:7233"
        assert env["GONGFU_DATABASE_URL"].startswith("postgresql+psycopg2://")
    assert SERVICES["api"]["command"] == ["gongfu", "api"]
    assert SERVICES["worker"]["command"] == ["gongfu", "worker"]
    commands = {c.name or c.callback.__name__ for c in cli.registered_commands}  # type: ignore[union-attr]
    assert {"api", "worker", "migrate"} <= commands


def test_temporal_uses_postgresql_and_registers_the_workflows_search_attributes() -> None:
    temporal = SERVICES["temporal"]["environment"]
    assert temporal["DB"] == "postgres12" and temporal["POSTGRES_SEEDS"] == "postgresql"
    script = (ROOT / "deploy" / "temporal-setup.sh").read_text()
    registered = dict(re.findall(r"(Gf\w+)=(\w+)", script))
    assert registered == {k.name: {"KEYWORD": "Keyword", "KEYWORD_LIST": "KeywordList",
                                   "DATETIME": "Datetime"}[k.indexed_value_type.name]
                          for k in sa.ALL}


def test_the_proxy_fronts_the_api_replicas() -> None:
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "http://api:8000" in conf and "resolver 127.0.0.11" in conf
    assert SERVICES["api"]["deploy"]["replicas"]


def test_configuration_reference_is_up_to_date() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert doc == reference(), "run `gongfu settings --write` and commit docs/configuration.md"


def test_env_example_sets_what_compose_requires() -> None:
    required = set(re.findall(r"\$\{(\w+):\?", (ROOT / "docker-compose.yml").read_text()))
    example = dict(line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines()
                   if line and not line.startswith("#"))
    assert required <= set(example), required - set(example)


@pytest.mark.skipif(shutil.which("docker-compose") is None,
                    reason="the compose tool is not installed (.ci/run installs it)")
def test_compose_tool_accepts_the_file(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text((ROOT / ".env.example").read_text())
    proc = subprocess.run(["docker-compose", "--env-file", str(env), "-f",
                           str(ROOT / "docker-compose.yml"), "config", "-q"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
