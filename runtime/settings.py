"""Every connection and knob, from the environment (prefix GONGFU_), with the zero-setup
demo's values as defaults. One object, read once per process."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GONGFU_", env_file=".env", extra="ignore")

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    task_queue: str = "gongfu-projects"
    # The demo's dev server: its SQLite file and UI live under data_dir.
    data_dir: Path = Path("data")
    temporal_ui_port: int = 8233
    database_url: str = "sqlite:///data/gongfu.db"
    # Signs the officials' bearer tokens (HS256). The default is for the demo only.
    token_secret: str = "gongfu-demo-secret-change-me-0123456789"
    token_ttl_hours: int = 12
    storage_dir: Path = Path("data/documents")
    max_document_mb: int = 50
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    log_format: str = "console"  # console | json
    log_level: str = "info"


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings()
