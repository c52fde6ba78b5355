"""What the API's handlers share: the Temporal client, the database, the settings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client

from runtime.settings import Settings


@dataclass
class AppState:
    client: Client
    db: sessionmaker[Session]
    settings: Settings
    task_queue: str


def app_state(request: Request) -> AppState:
    return request.app.state.gongfu  # type: ignore[no-any-return]


StateDep = Annotated[AppState, Depends(app_state)]
