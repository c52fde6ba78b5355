"""Every connection and knob, from the environment (prefix GONGFU_), with the zero-setup
demo's values as defaults. One object, read once per process; `docs/configuration.md` is
generated from it (`gongfu settings --write`) and a test keeps the two equal."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The secret documented for the demo: anyone can sign tokens with it.
DEMO_SEAL_SECRET = "gongfu-demo-seal-change-me-0123456789"
DEMO_TOKEN_SECRET = "gongfu-demo-secret-change-me-0123456789"


class Settings(BaseSettings):
    # Errors name the setting, never its value (the database URL and API key are secrets).
    model_config = SettingsConfigDict(env_prefix="GONGFU_", env_file=".env", extra="ignore",
                                      hide_input_in_errors=True)

    temporal_address: str = Field("127.0.0.1:7233", description="Temporal frontend host:port")
    temporal_namespace: str = Field("default", description="Temporal namespace")
    temporal_tls: bool = Field(False, description="connect to the Temporal frontend over TLS "
                               "(required by the other GONGFU_TEMPORAL_TLS_* and the API key)")
    temporal_tls_ca_path: Path | None = Field(None, description="PEM CA that signed the "
                                              "frontend's certificate (unset: system roots)")
    temporal_tls_cert_path: Path | None = Field(None, description="mTLS: this client's PEM "
                                                "certificate (with GONGFU_TEMPORAL_TLS_KEY_PATH)")
    temporal_tls_key_path: Path | None = Field(None, description="mTLS: this client's PEM "
                                               "private key (with GONGFU_TEMPORAL_TLS_CERT_PATH)")
    temporal_tls_server_name: str | None = Field(None, description="name the frontend's "
                                                 "certificate must carry, when not the host of "
                                                 "GONGFU_TEMPORAL_ADDRESS (also sent as SNI)")
    temporal_api_key: SecretStr | None = Field(None, description="API key sent as a bearer "
                                               "token to Temporal (needs GONGFU_TEMPORAL_TLS)")
    task_queue: str = Field("gongfu-projects", description="task queue of the project workers")
    data_dir: Path = Field(Path("data"), description="`gongfu run` only: the dev server's "
                           "SQLite file and logs")
    temporal_ui_port: int = Field(8233, description="`gongfu run` only: the dev server's UI")
    database_url: str = Field("sqlite:///data/gongfu.db", description="SQLAlchemy URL of the "
                              "programme database (postgresql+psycopg2://… in production)")
    db_pool_size: int = Field(10, description="connections per process to the database")
    demo: bool = Field(False, description="demo mode: the API and the worker accept the "
                       "documented demo token secret (`gongfu run` is always demo mode)")
    token_secret: str = Field(DEMO_TOKEN_SECRET, description="HS256 key that signs the "
                              "officials' tokens (demo, tests); set a long random value. "
                              "Outside demo mode the API and worker refuse the demo value")
    token_jwks_url: str | None = Field(None, description="the province's identity provider: "
                                       "JWKS URL of its RS256 keys; when set, only its tokens "
                                       "are accepted (HS256 is off)")
    token_issuer: str | None = Field(None, description="with GONGFU_TOKEN_JWKS_URL: the "
                                     "`iss` the tokens must carry")
    token_audience: str | None = Field(None, description="with GONGFU_TOKEN_JWKS_URL: the "
                                       "`aud` the tokens must carry")
    seal_secret: SecretStr = Field(SecretStr(DEMO_SEAL_SECRET),
                                   description="HMAC key with which the API seals the "
                                   "decisions and deadline changes it sends to the workflows, "
                                   "and the workers check it; the same long random value in "
                                   "API and worker")
    token_ttl_hours: int = Field(12, description="validity of tokens issued by `gongfu token`")
    storage_dir: Path = Field(Path("data/documents"), description="where uploaded documents' "
                              "bytes are kept (a shared volume when the API has replicas)")
    max_document_mb: int = Field(50, description="largest upload accepted")
    api_host: str = Field("127.0.0.1", description="address the API listens on")
    api_port: int = Field(8000, description="port the API listens on")
    worker_activity_threads: int = Field(32, description="threads for the database activities")
    worker_max_cached_workflows: int = Field(1000, description="workflows kept in a worker's "
                                             "memory between tasks (memory vs. replay work)")
    upkeep_archive_minutes: int = Field(1440, ge=1, description="minutes between the "
                                        "history archive sweeps (Temporal Schedule "
                                        "gongfu-upkeep-archive; `gongfu ops schedules`)")
    upkeep_read_model_minutes: int = Field(60, ge=1, description="minutes between the read "
                                           "model's checks and repairs (gongfu-upkeep-"
                                           "read-model)")
    upkeep_deadlines_minutes: int = Field(15, ge=1, description="minutes between the scans "
                                          "for missed deadlines (gongfu-upkeep-deadlines)")
    upkeep_stuck_minutes: int = Field(15, ge=1, description="minutes between the scans for "
                                      "stuck workflows (gongfu-upkeep-stuck)")
    console_demo_sign_in: bool = Field(False, description="the console's sign-in page offers "
                                       "the demo users (role, region, unit) instead of asking "
                                       "for a token; `gongfu run` turns it on. Never in "
                                       "production")
    temporal_ui_url: str = Field("", description="the Temporal UI's address, for the console's "
                                 "links; empty: http://<temporal host>:<temporal_ui_port>")
    log_format: str = Field("console", description="console | json")
    log_level: str = Field("info", description="debug | info | warning | error")

    @field_validator("temporal_tls_ca_path", "temporal_tls_cert_path", "temporal_tls_key_path",
                     "temporal_tls_server_name", "temporal_api_key", "token_jwks_url",
                     "token_issuer", "token_audience", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """`GONGFU_TEMPORAL_TLS_CA_PATH=` (as compose passes an unset variable) means unset."""
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _temporal_tls_is_consistent(self) -> Settings:
        """Half a TLS configuration is refused here, at start, rather than met as a
        plaintext connection or a handshake failure later."""
        problems: list[str] = []
        cert, key = self.temporal_tls_cert_path, self.temporal_tls_key_path
        if (cert is None) != (key is None):
            problems.append("GONGFU_TEMPORAL_TLS_CERT_PATH and GONGFU_TEMPORAL_TLS_KEY_PATH "
                            "go together (mTLS needs the certificate and its key)")
        if not self.temporal_tls:
            given = [f"GONGFU_{name.upper()}" for name in _NEEDS_TLS
                     if getattr(self, name) not in (None, "")]
            if given:
                problems.append(f"{', '.join(given)} set but GONGFU_TEMPORAL_TLS is false: "
                                "set GONGFU_TEMPORAL_TLS=true (an API key or client "
                                "certificate is never sent over a plaintext connection)")
        for name in ("temporal_tls_ca_path", "temporal_tls_cert_path", "temporal_tls_key_path"):
            path = getattr(self, name)
            if path is not None and not path.is_file():
                problems.append(f"GONGFU_{name.upper()}={path}: no such file")
        if problems:
            raise ValueError("inconsistent Temporal TLS settings: " + "; ".join(problems))
        return self


class DemoSecretRefused(RuntimeError):
    """The process is not in demo mode and would trust the demo secret."""


def refuse_demo_secret(cfg: Settings, what: str) -> None:
    """Outside demo mode, a process that would trust tokens signed with the documented
    demo secret does not start: anyone could sign themselves a province token."""
    if not cfg.demo and not cfg.token_jwks_url and cfg.token_secret == DEMO_TOKEN_SECRET:
        raise DemoSecretRefused(
            f"{what} refuses to start: GONGFU_TOKEN_SECRET is the documented demo value. "
            "Set a long random GONGFU_TOKEN_SECRET (or GONGFU_TOKEN_JWKS_URL for the "
            "province's identity provider), or GONGFU_DEMO=true for a demo. / "
            f"{what}拒绝启动：令牌密钥仍为公开的演示值，请设置随机密钥或身份提供方JWKS地址，"
            "演示环境请设置 GONGFU_DEMO=true")
    if not cfg.demo and cfg.seal_secret.get_secret_value() == DEMO_SEAL_SECRET:
        raise DemoSecretRefused(
            f"{what} refuses to start: GONGFU_SEAL_SECRET is the documented demo value. "
            "Set the same long random GONGFU_SEAL_SECRET in the API and the worker, or "
            f"GONGFU_DEMO=true for a demo. / {what}拒绝启动：签章密钥仍为公开的演示值")


_NEEDS_TLS = ("temporal_tls_ca_path", "temporal_tls_cert_path", "temporal_tls_key_path",
              "temporal_tls_server_name", "temporal_api_key")


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
        shown = ("(demo value: change it)" if name in ("token_secret", "seal_secret")
                 else f"`{default}`")
        lines.append(f"| `GONGFU_{name.upper()}` | {shown} | {field.description} |")
    return "\n".join(lines) + "\n"
