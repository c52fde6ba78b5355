"""The production topology as processes, under faults (issue 19 §2), at a size that fits in
the suite: one dev server, PostgreSQL, 3 `gongfu worker` and 2 `gongfu api` processes;
whole 2026 lifecycles with every decision over HTTP, spread over both APIs; worker 0 and
API 0 SIGKILLed a third of the way and started again. `python -m bench.many` is the same
run at 500 projects (its figures are in bench/results/many_processes.md)."""

from __future__ import annotations

import os
from pathlib import Path

from bench.many import run
from runtime.db import scratch_database

PROJECTS = int(os.environ.get("GONGFU_MANY_PROJECTS", "30"))


async def test_five_processes_with_a_worker_and_an_api_killed(tmp_path: Path) -> None:
    with scratch_database("gongfu_many") as url:
        result = await run(PROJECTS, PROJECTS, 2.0, tmp_path, url)
    checks = result["checks"]
    assert checks["expected_end"]["ok"], checks["expected_end"]
    assert checks["each_accepted_decision_once"]["ok"], checks["each_accepted_decision_once"]
    assert checks["read_model_equals_workflows"]["ok"], checks["read_model_equals_workflows"]
    assert checks["histories_verify"]["ok"], checks["histories_verify"]
    assert checks["idempotency_across_apis"]["ok"], result["problems"]
    assert not result["problems"], result["problems"]
    assert result["decisions_accepted"] == result["decisions_expected"]
    # The kill was real: some requests found API 0 gone and went to API 1.
    assert any(k.startswith("transport") for k in result["retries"]), result["retries"]
