"""Settings: environment variables prefixed ``APPROVAL_GATEWAY_`` and an optional TOML file.

Nested groups use ``__`` in variable names (``APPROVAL_GATEWAY_OUTBOX__LEASE_SECONDS``). Precedence,
highest first: environment, ``--config`` TOML file, defaults. The defaults alone give the embedded
deployment: SQLite in ``./data``, sandbox platforms, a backend secret generated on first start.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from bot.errors import ConfigError

ENV_PREFIX = "APPROVAL_GATEWAY_"
SECRET_FILE = "backend_secret"


class OutboxSettings(BaseModel):
    """How the outbox worker claims and retries jobs."""

    lease_seconds: float = Field(30.0, gt=0, description="a claimed job is re-tried after this")
    poll_seconds: float = Field(1.0, gt=0, description="idle poll interval")
    forward_concurrency: int = Field(
        8, ge=1, le=256, description="decision webhooks in flight (their own lane)"
    )
    update_concurrency: int = Field(8, ge=1, le=256, description="card updates in flight")
    send_concurrency: int = Field(8, ge=1, le=256, description="card sends in flight")
    backoff_base_seconds: float = Field(1.0, gt=0)
    backoff_cap_seconds: float = Field(300.0, gt=0)
    give_up_after_hours: float = Field(24.0, gt=0, description="then the job is failed for good")
    expiry_sweep_seconds: float = Field(5.0, gt=0)


class LarkSettings(BaseModel):
    """Lark / Feishu app credentials; the channel runs when ``app_id`` is set."""

    app_id: str | None = None
    app_secret: SecretStr | None = None
    domain: str = Field("https://open.feishu.cn", description="or https://open.larksuite.com")
    mode: Literal["stream", "http"] = "stream"
    encrypt_key: SecretStr | None = None
    verification_token: SecretStr | None = None
    receive_id_type: Literal["open_id", "user_id", "union_id", "email"] = "open_id"
    app_qps: float = Field(45.0, gt=0, description="below the documented 50/s per app")
    user_qps: float = Field(4.5, gt=0, description="below the documented 5/s per user")
    throttle_retry_seconds: float = Field(
        1.0, gt=0, description="pause after a 429 that carries no x-ogw-ratelimit-reset"
    )
    ack_budget_seconds: float = Field(
        2.5, gt=0, description="answer a click within this (the platform allows 3 s)"
    )


class DingTalkSettings(BaseModel):
    """One DingTalk app (DingTalk, or DingTalk Enterprise); runs when ``client_id`` is set."""

    client_id: str | None = None
    client_secret: SecretStr | None = None
    robot_code: str | None = None
    corp_id: str | None = Field(None, description="only clicks from this organisation count")
    api_base: str = "https://api.dingtalk.com"
    oapi_base: str = Field(
        "https://oapi.dingtalk.com", description="the older topapi (user lookup by mobile)"
    )
    mode: Literal["stream", "http"] = "stream"
    card_template_id: str = Field(
        "approval_gateway.schema", description="card template built from cards/templates"
    )
    callback_token: SecretStr | None = None
    callback_aes_key: SecretStr | None = None
    qps: float = Field(18.0, gt=0, description="below the documented 20/s per app and API")
    throttle_retry_seconds: float = Field(1.0, gt=0, description="pause after a QPS-limit 403")
    ack_budget_seconds: float = Field(
        2.5, gt=0, description="answer a card callback within this (the platform allows 3 s)"
    )
    callback_route_key: str | None = Field(
        None, description="HTTP mode: card callback route key registered for /callbacks/<name>"
    )


class EmailSettings(BaseModel):
    """SMTP relay for the email channel; the channel runs when ``host`` is set."""

    host: str | None = None
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = Field(
        "starttls", description="starttls (usually 587), tls (implicit, 465) or none"
    )
    username: str | None = None
    password: SecretStr | None = None
    from_address: str = Field("approvals@localhost", pattern=r"^[^@\s<>]+@[^@\s<>]+$")
    from_name: str = "Approval Gateway"
    timeout_seconds: float = Field(30.0, gt=0)
    closing_emails: bool = Field(
        False, description="send a short email when a request is decided, withdrawn or expired"
    )


class RateSettings(BaseModel):
    """What one message costs, shown in each channel's authorization notice."""

    currency: str = Field("CNY", min_length=3, max_length=3)
    platform_per_message: dict[str, float] = Field(
        default_factory=dict, description="the platform's own price per message, by channel"
    )
    deployment_per_message: float = Field(
        0.0, ge=0, description="what this deployment charges internally per message"
    )


class Settings(BaseSettings):
    """All gateway settings; see README for the table."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", validate_default=True
    )
    toml_path: ClassVar[Path | None] = None

    data_dir: Path = Field(Path("./data"), description="holds gateway.db and generated secrets")
    listen: str = Field("127.0.0.1:8080", description="host:port of the HTTP API")
    public_url: str | None = Field(None, description="external base URL, for links and callbacks")
    backend_url: str | None = Field(None, description="where decisions are POSTed")
    backend_secret: SecretStr | None = Field(
        None,
        description="shared with the backend: signs its calls (RFC 9421) and our decisions (whsec_...)",
    )
    sandbox: bool = Field(True, description="run the local sandbox platforms (embedded default)")
    sandbox_platforms: list[str] = Field(
        # memory reaches every account by id, so it would shadow email; tests ask for it by name
        default_factory=lambda: ["dingtalk", "lark", "mail"],
        description="which sandbox platforms to run",
    )
    log_level: str = "INFO"
    default_locale: str = Field("en-US", pattern=r"^(zh-CN|en-US)$")
    backend_timeout_seconds: float = Field(10.0, gt=0)
    channel_order: list[str] = Field(
        default_factory=lambda: ["dingtalk", "dingtalk_enterprise", "lark", "email"],
        description="deployment's default channel preference",
    )
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    lark: LarkSettings = Field(default_factory=LarkSettings)
    dingtalk: DingTalkSettings = Field(default_factory=DingTalkSettings)
    dingtalk_enterprise: DingTalkSettings = Field(default_factory=DingTalkSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)
    master_key: SecretStr | None = Field(
        None, description="base64 AES-256 key sealing secrets at rest (else DATA_DIR/master.key)"
    )
    master_key_previous: SecretStr | None = Field(
        None, description="older master keys (comma-separated), readable during a rotation"
    )
    rates: RateSettings = Field(default_factory=RateSettings)
    signature_window_seconds: int = Field(
        300,
        ge=30,
        le=1800,
        description="inbound API: a signature's created time may be this far off",
    )
    idempotency_hours: float = Field(
        24.0,
        ge=1,
        le=24 * 30,
        description="answers to signed writes are kept this long for resends (and replays)",
    )
    consent_wait_seconds: float = Field(
        3600.0,
        ge=0,
        description="cards queued on a channel whose notice changed wait this long for renewed "
        "consent, then fall back through routing",
    )
    callback_window_seconds: float = Field(
        300.0,
        gt=0,
        description="HTTP callbacks (Lark, DingTalk): accepted this fresh, and remembered in the "
        "store this long so a replay is refused",
    )
    china_regions: list[str] = Field(
        default_factory=lambda: ["cn", "cn-hangzhou", "cn-shanghai", "cn-beijing", "cn-shenzhen"],
        description="regions where DingTalk is offered",
    )

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit():
            raise ValueError("must be host:port")
        return value

    @field_validator("backend_secret")
    @classmethod
    def _check_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("whsec_"):
            raise ValueError("must be a Standard Webhooks secret starting with whsec_")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if cls.toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls.toml_path))
        return (*sources, file_secret_settings)

    @property
    def host(self) -> str:
        return self.listen.rpartition(":")[0]

    @property
    def port(self) -> int:
        return int(self.listen.rpartition(":")[2])

    @property
    def db_path(self) -> Path:
        return self.data_dir / "gateway.db"


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Read settings from the environment and the optional TOML file; raise ConfigError."""
    from pydantic import ValidationError

    if config is not None and not config.is_file():
        raise ConfigError(f"config file not found: {config}")
    Settings.toml_path = config
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from exc
    finally:
        Settings.toml_path = None


def ensure_backend_secret(settings: Settings) -> str:
    """The configured backend secret, or one generated once into the data dir (mode 0600)."""
    if settings.backend_secret is not None:
        return settings.backend_secret.get_secret_value()
    path = settings.data_dir / SECRET_FILE
    if path.exists():
        return path.read_text().strip()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    # O_EXCL: two processes starting at once must not both write a different secret.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    return secret


def masked(secret: str) -> str:
    """A secret shown to a person: enough to recognise it, never enough to use it."""
    return secret[:10] + "…" if len(secret) > 10 else "…"
