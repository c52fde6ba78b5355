"""docs/lifecycle.md is drawn from the same table the workflow obeys; stale means red."""

from __future__ import annotations

import pytest

from domain.lifecycle import lifecycle_for
from domain.presets import PRESETS, PresetName
from tools.diagram import DOC, mermaid, render

pytestmark = pytest.mark.pure  # no server, no database: `make test-fast`


def test_lifecycle_document_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/lifecycle.md is stale: run `make diagram` and commit it"
    )


def test_diagram_draws_every_move_with_chinese_stage_labels() -> None:
    lc = lifecycle_for(PRESETS[PresetName.P2026])
    text = mermaid(lc)
    assert text.startswith("stateDiagram-v2")
    assert 'state "县级审核 county_review" as county_review' in text
    for move in lc.moves:
        assert move.trigger in text
    assert "halfyear_acceptance" not in text  # the 2026 preset has no half-year stage
