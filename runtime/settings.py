"""Every connection and knob, from the environment (prefix GONGFU_), with the zero-setup
demo's values as defaults. One object, read once per process; `docs/configuration.md` is
generated from it (`gongfu settings --write`) and a test keeps the two equal."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GONGFU_", env_file=".env", extra="ignore")

    temporal_address: str = Field("127.0.0.1:7233", description="Temporal frontend host:port")
    temporal_namespace: str = Field("default", description="Temporal namespace")
    task_queue: str = Field("gongfu-projects", description="task queue of the project workers")
    data_dir: Path = Field(Path("data"), description="`gongfu run` only: the dev server's "
                           "SQLite file and logs")
    temporal_ui_port: int = Field(8233, description="`gongfu run` only: the dev server's UI")
    database_url: str = Field("sqlite:///data/gongfu.db", description="SQLAlchemy URL of the "
                              "programme database (postgresql+psycopg2://… in production)")
    db_pool_size: int = Field(10, description="connections per process to the database")
    token_secret: str = Field("gongfu-demo-secret-change-me-0123456789", description="HS256 "
                              "key that signs the officials' tokens; set a long random value")
    token_ttl_hours: int = Field(12, description="validity of tokens issued by `gongfu token`")
    storage_dir: Path = Field(Path("data/documents"), description="where uploaded documents' "
                              "bytes are kept (a shared volume when the API has replicas)")
    max_document_mb: int = Field(50, description="largest upload accepted")
    api_host: str = Field("127.0.0.1", description="address the API listens on")
    api_port: int = Field(8000, description="port the API listens on")
    worker_activity_threads: int = Field(32, description="threads for the database activities")
    worker_max_cached_workflows: int = Field(1000, description="workflows kept in a worker's "
                                             "memory between tasks (memory vs. replay work)")
    log_format: str = Field("console", description="console | json")
    log_level: str = Field("info", description="debug | info | warning | error")


@lru_cache(maxsize=1)
def settings() -> Settings:
    return Settings()


def reference() -> str:
    """The configuration reference, as docs/configuration.md."""
    lines = ["# Configuration", "",
             "Generated from `runtime/settings.py` by `gongfu settings --write`. Every value "
             "comes from the environment (or a `.env` file) with the prefix `GONGFU_`.", "",
             "| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "(demo value: change it)" if name == "token_secret" else f"`{default}`"
        lines.append(f"| `GONGFU_{name.upper()}` | {shown} | {field.description} |")
    return "\n".join(lines) + "\n"
