"""What a project's state implies for the places its units hold (R2, R3) and for its row
in the city's quota (R8).

The read model does not follow transitions (a move seen twice, or seen in a history that
was never committed, would be applied twice or wrongly); it is set to what the current
state implies, so applying the same state again changes nothing, and applying the true
state after a false one repairs it.
"""

from __future__ import annotations

from enum import StrEnum

from domain.stages import Stage


class PlaceHold(StrEnum):
    NONE = "none"  # a draft: nothing claimed yet (the submission check claims)
    HELD = "held"  # submitted and under review, returned included
    SELECTED = "selected"  # on the list: counts in later batches that name this one
    RELEASED = "released"  # ended before the list


def place_hold(stage: Stage, *, was_selected: bool) -> PlaceHold:
    if stage is Stage.DRAFT:
        return PlaceHold.NONE
    if stage in (Stage.REVOKED, Stage.TERMINATED):
        # Ended before the list: as if never selected (issue E3); after: it was selected.
        return PlaceHold.SELECTED if was_selected else PlaceHold.RELEASED
    if stage.releases_places:
        return PlaceHold.RELEASED
    if stage.is_selected:
        return PlaceHold.SELECTED
    return PlaceHold.HELD


def quota_rank(stage: Stage, *, rank: int | None, was_selected: bool) -> int | None:
    """The rank the city's quota row must hold, or None when the project holds none.

    In city review the row is the reservation of a recommendation awaiting the finance
    bureau's co-signature (`rank` is then the pending rank)."""
    if stage.before_recommendation:
        return None
    if place_hold(stage, was_selected=was_selected) is PlaceHold.RELEASED:
        return None
    return rank
