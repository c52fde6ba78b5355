"""Custom search attributes: how operators list projects by stage, batch, region, task.

Registered when the dev server starts (`--search-attribute`) and in tests; upserted by
the workflow on every stage change.
"""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

STAGE = SearchAttributeKey.for_keyword("GfStage")
BATCH = SearchAttributeKey.for_keyword("GfBatch")
PRESET = SearchAttributeKey.for_keyword("GfPreset")
CITY = SearchAttributeKey.for_keyword("GfCity")
COUNTY = SearchAttributeKey.for_keyword("GfCounty")
TASK = SearchAttributeKey.for_keyword("GfTask")
WAITING_ON = SearchAttributeKey.for_keyword_list("GfWaitingOn")
NEXT_DEADLINE = SearchAttributeKey.for_datetime("GfNextDeadline")

ALL = (STAGE, BATCH, PRESET, CITY, COUNTY, TASK, WAITING_ON, NEXT_DEADLINE)

_CLI_TYPES = {"KEYWORD": "Keyword", "KEYWORD_LIST": "KeywordList", "DATETIME": "Datetime"}


def cli_flags() -> list[str]:
    """`temporal server start-dev` flags that register them."""
    out: list[str] = []
    for key in ALL:
        out += ["--search-attribute", f"{key.name}={_CLI_TYPES[key.indexed_value_type.name]}"]
    return out
