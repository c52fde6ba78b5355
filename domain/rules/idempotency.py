"""Idempotency of decisions: a request id makes one record. A retry of the same
decision is answered with the first outcome; the same id with another decision is
refused (IDEMPOTENCY)."""

from __future__ import annotations

from domain.decisions import Decision, DecisionRecord
from domain.project_data import ProjectData
from domain.refusals import Refusal
from domain.rules.explain import reused_request


def earlier_record(data: ProjectData, request_id: str) -> DecisionRecord | None:
    seq = data.seq_by_request.get(request_id)
    return data.log[seq - 1] if seq is not None else None


def reuse(data: ProjectData, d: Decision) -> Refusal | None:
    """For a request id already used: None when this is a retry of the same decision."""
    first = earlier_record(data, d.request_id)
    assert first is not None
    if data.fingerprints.get(d.request_id) == d.fingerprint():
        return None
    return reused_request(d.request_id, first.action)


def remember(data: ProjectData, d: Decision, record: DecisionRecord) -> None:
    data.seq_by_request[d.request_id] = record.seq
    data.fingerprints[d.request_id] = d.fingerprint()
