"""Fuzzing the OpenAPI description (schemathesis): nothing a user can send gives a 5xx.

schemathesis is used as a library (its pytest plugin does not run under pytest 9): each
operation's request strategy is driven by Hypothesis, a few examples per operation, as
the province (who reaches every route) and as an applicant. The app runs on the real
time-skipping dev server and the test database, like the other API tests.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from api.app import create_app
from api.state import AppState
from tests import support
from tests.api_support import SETTINGS, token
from tests.driver import Harness

EXAMPLES = 4
AS = {
    "province": token("province", "fuzz-province"),
    "applicant": token("applicant", "fuzz-applicant", "3701", support.UNIT),
}


@pytest.fixture(scope="module")
def operations(ts: Harness, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    cfg = SETTINGS.model_copy(update={"storage_dir": tmp_path_factory.mktemp("fuzz-docs")})
    app = create_app(AppState(client=ts.env.client, db=ts.db, settings=cfg, task_queue=ts.queue))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def fuzzer(op, headers: dict[str, str], failures: list[str], calls: list[int]):  # type: ignore[no-untyped-def]
    """A bounded Hypothesis run over one operation's generated requests."""
    name = f"{op.method.upper()} {op.path}"

    @given(case=op.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def fuzz(case) -> None:  # type: ignore[no-untyped-def]
        response = case.call(headers=headers)
        calls.append(response.status_code)
        if response.status_code >= 500:
            failures.append(f"{name} -> {response.status_code}: {response.text[:300]}")

    return fuzz


@pytest.mark.parametrize("who", sorted(AS))
def test_no_input_gives_a_server_error(operations, who: str) -> None:  # type: ignore[no-untyped-def]
    failures: list[str] = []
    statuses: list[int] = []
    for op in operations:
        fuzzer(op, AS[who], failures, statuses)()
    calls = len(statuses)
    print(f"fuzz as {who}: {len(operations)} operations, {calls} requests, "
          f"{len(failures)} server errors")
    assert calls >= len(operations)
    assert not failures, "\n".join(failures[:10])
