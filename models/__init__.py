"""SQLAlchemy models: programme data (batches, tasks, units, quotas), the project read
model, documents and decision records. The schema is created only by the migrations in
`migrations/`; `tests/test_migrations.py` checks that the two agree."""

from models.archive import HistoryArchive
from models.awards import AwardListEntry, AwardListRow
from models.base import Base
from models.idempotency import IdempotencyKey
from models.programme import (
    Batch,
    BatchCounting,
    CityQuota,
    EarlierWinner,
    EarlierWinnerUnit,
    LocalDeadline,
    Task,
)
from models.projects import (
    ConsortiumMember,
    DecisionRow,
    Document,
    Place,
    Project,
    ProjectDocument,
    Recommendation,
)
from models.reference import Region
from models.units import Unit, UnitFactChange, UnitGroup, UnitPenalty

__all__ = [
    "AwardListEntry", "AwardListRow", "Base", "Batch", "BatchCounting", "CityQuota",
    "ConsortiumMember", "DecisionRow",
    "Document", "EarlierWinner", "EarlierWinnerUnit", "HistoryArchive", "IdempotencyKey",
    "LocalDeadline", "Place", "Project",
    "ProjectDocument", "Recommendation",
    "Region", "Task", "Unit", "UnitFactChange", "UnitGroup", "UnitPenalty",
]
