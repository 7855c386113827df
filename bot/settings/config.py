"""Settings: environment variables prefixed ``APPROVAL_GATEWAY_`` and an optional TOML file.

Nested groups use ``__`` in variable names (``APPROVAL_GATEWAY_OUTBOX__LEASE_SECONDS``). Precedence,
highest first: environment, ``--config`` TOML file, defaults. The defaults alone give the embedded
deployment: SQLite in ``./data``, sandbox platforms, a backend secret generated on first start.

Over 400 lines on purpose: every setting group, its environment names and its checks in one
place, the reference the README's configuration table is written from.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
)

from bot.core.regions import CHINA_REGIONS
from bot.core.timing.durations import Duration
from bot.core.timing.quiet import DEFAULT_ZONES, QuietHours, zone
from bot.core.timing.urgency import UrgencyKind
from bot.errors import ConfigError
from bot.files import private_dir, read_secret_file, write_new_secret_file
from bot.settings.check import describe, describe_parse_error, read_toml, unknown_env, unknown_keys

if TYPE_CHECKING:
    from bot.core.timing.policy import TimingPolicy

ENV_PREFIX = "APPROVAL_GATEWAY_"
SECRET_FILE = "backend_secret"
# Read by the CLI itself, not a setting (the admin token for the HTTP commands).
OTHER_ENV = frozenset({"APPROVAL_GATEWAY_ADMIN_TOKEN"})

ChannelSetting = Literal["dingtalk", "dingtalk_enterprise", "lark", "email", "memory"]
SandboxPlatformSetting = Literal["memory", "mail", "dingtalk", "lark"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


def _as_list(value: Any) -> Any:
    # A list as a person types it in a variable: "lark,email"; a JSON list is accepted too.
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise ValueError('not a JSON list; write it as a,b,c or ["a", "b"]') from None
    return [part.strip() for part in text.split(",") if part.strip()]


def _http_url(value: str) -> str:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError as exc:
        raise ValueError(f"not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    return value


def _upper(value: Any) -> Any:
    return value.strip().upper() if isinstance(value, str) else value


ListSetting = Annotated[list[str], NoDecode, BeforeValidator(_as_list)]
ChannelList = Annotated[list[ChannelSetting], NoDecode, BeforeValidator(_as_list)]
PlatformList = Annotated[list[SandboxPlatformSetting], NoDecode, BeforeValidator(_as_list)]
DEFAULT_ORDER: tuple[ChannelSetting, ...] = ("dingtalk", "dingtalk_enterprise", "lark", "email")
DEFAULT_PLATFORMS: tuple[SandboxPlatformSetting, ...] = ("dingtalk", "lark", "mail")
# The channels whose platform offers SMS and phone urgency, billed to the tenant.
PAID_URGENCY_CHANNELS: tuple[str, ...] = ("dingtalk", "dingtalk_enterprise", "lark")
UrlSetting = Annotated[str, AfterValidator(_http_url)]


class _Group(BaseModel):
    # An unknown key in a [group] table is a mistake to report, not to ignore.
    model_config = ConfigDict(extra="forbid")


class OutboxSettings(_Group):
    """How the outbox worker claims and retries jobs."""

    lease_seconds: float = Field(30.0, gt=0, description="a claimed job is re-tried after this")
    poll_seconds: float = Field(1.0, gt=0, description="idle poll interval")
    forward_concurrency: int = Field(
        8, ge=1, le=256, description="decision webhooks in flight (their own lane)"
    )
    update_concurrency: int = Field(8, ge=1, le=256, description="card updates in flight")
    # A paced platform's update waits in place for its slot of the platform's budget (at most
    # bot.channels.common.ratelimit.PACE_WITHIN ahead): its lane needs as many in flight as the
    # platform's rate times a call's own time (the card's read, the answer, the commit), which
    # on a busy host is a few hundred milliseconds at 48 calls a second. More than the rate times
    # PACE_WITHIN (2 s: 38 at DingTalk's 19/s) only books slots too far ahead: those jobs are put
    # back until their turn, each a write for nothing.
    platform_update_concurrency: int = Field(
        32, ge=1, le=256, description="card updates in flight per paced platform (its own lane)"
    )
    send_concurrency: int = Field(8, ge=1, le=256, description="card sends in flight")
    backoff_base_seconds: float = Field(
        1.0, gt=0, description="first retry delay; doubles per attempt, with jitter"
    )
    backoff_cap_seconds: float = Field(300.0, gt=0, description="longest retry delay")
    give_up_after_hours: float = Field(24.0, gt=0, description="then the job is failed for good")
    expiry_sweep_seconds: float = Field(
        5.0, gt=0, description="how often overdue requests are expired"
    )
    shutdown_grace_seconds: float = Field(
        10.0,
        ge=0,
        description="on stop, wait this long for running jobs and HTTP requests, then release them",
    )


class HttpSettings(_Group):
    """Read deadlines for the HTTP API, so slow clients are dropped (see bot.http.deadlines)."""

    header_timeout_seconds: float = Field(
        10.0, gt=0, description="the request line and headers must arrive within this"
    )
    body_timeout_seconds: float = Field(
        30.0, gt=0, description="the body must arrive within this after the headers"
    )
    keepalive_timeout_seconds: float = Field(
        75.0, gt=0, description="an idle keep-alive connection is closed after this"
    )


class LarkSettings(_Group):
    """Lark / Feishu app credentials; the channel runs when ``app_id`` is set."""

    app_id: str | None = Field(None, description="the app's App ID; the channel runs when set")
    app_secret: SecretStr | None = Field(None, description="the app's App Secret")
    domain: UrlSetting = Field(
        "https://open.feishu.cn", description="or https://open.larksuite.com"
    )
    mode: Literal["stream", "http"] = Field(
        "stream",
        description="stream (long connection, no public URL) or http (POST /callbacks/lark)",
    )
    encrypt_key: SecretStr | None = Field(None, description="HTTP mode: the event Encrypt Key")
    verification_token: SecretStr | None = Field(
        None, description="HTTP mode: the event Verification Token"
    )
    receive_id_type: Literal["open_id", "user_id", "union_id", "email"] = Field(
        "open_id", description="the id kind identity bindings hold (clicks are matched on it)"
    )
    # The platform allows each API of an app 50 calls/s and 1000 calls/min (notes: lark.md
    # §3.2-3.5; docs reference/im-v1/message/create and .../patch,
    # server-docs/api-call-guide/frequency-control). bot.channels.common.ratelimit lets a call
    # leave at most half an interval after its slot, so the calls of one second had their
    # slots in 1 + 1/96 s: at most ceil(48 * (1 + 1/96)) = 49 at 48/s, from all replicas. 49/s
    # would allow 50, the limit itself, with 10 ms left for a call's way to the platform; 48
    # leaves 31 ms (51 calls in a second need slots 50/48 s apart) and uses 0.96 of the limit.
    app_qps: float = Field(48.0, gt=0, description="per API, below the documented 50/s per app")
    # The 50/s read strictly is "50 in any second": a quiet app may send a burst, as the
    # platform's own schedule would. Up to app_burst calls go at once after a quiet spell,
    # within a window (bot.core.limits.Window) of app_per_second lanes, each one call per
    # app_per_second / app_qps seconds (50/48 = 1.0417 s): the spacing 50 calls have at 48/s,
    # so a backlog still goes at 48/s, and any 50 calls span at least what they span there.
    # Two calls of one lane leave at least 1.0417 - 1/96 = 1.031 s apart: any second holds at
    # most one call of each lane, 50, with the same 31 ms for the way to the platform.
    app_burst: int = Field(10, ge=1, le=50, description="per API: calls at once after a lull")
    app_per_second: int = Field(
        50, ge=1, le=50, description="per API: calls in any second (documented: 50/s)"
    )
    # The per-minute limit is a sliding window (bot.core.limits.Window): app_per_minute lanes,
    # each holding one call per app_minute_seconds. A call leaves at most half a per-second
    # interval (1/96 s) after its slot, so two calls of one lane leave at least
    # 60.25 - 0.0104 = 60.24 s apart: any 60 s (closed) holds at most one call of each lane,
    # 1000 from all replicas together, with 240 ms left for the way to the platform. Lanes are
    # taken in turn, so a quiet app's burst goes at the per-second pace for its first 1000
    # calls, and call k waits only for call k - 1000 to be 60.25 s old.
    app_per_minute: int = Field(
        1000, ge=1, le=1000, description="per API: calls in any minute (documented: 1000/min)"
    )
    app_minute_seconds: float = Field(
        60.25, ge=60.0, description="the minute's window, a margin over the platform's 60 s"
    )
    # 4.5/s per receiver: its calls of one second had slots in 1 + 1/96 s, at most
    # ceil(4.5 * 1.0104) = 5, the platform's 5/s, with 100 ms left for the way there.
    user_qps: float = Field(4.5, gt=0, description="below the documented 5/s per user")
    throttle_retry_seconds: float = Field(
        1.0, gt=0, description="pause after a 429 that carries no x-ogw-ratelimit-reset"
    )
    ack_budget_seconds: float = Field(
        2.5, gt=0, description="answer a click within this (the platform allows 3 s)"
    )

    @model_validator(mode="after")
    def _check_second(self) -> LarkSettings:
        _within_second(self.app_qps, self.app_per_second, "app_")
        return self


class DingTalkSettings(_Group):
    """One DingTalk app (DingTalk, or DingTalk Enterprise); runs when ``client_id`` is set."""

    client_id: str | None = Field(None, description="AppKey; the channel runs when set")
    client_secret: SecretStr | None = Field(
        None, description="AppSecret; also the key of the HTTP-mode robot sign check"
    )
    robot_code: str | None = Field(None, description="the robot that delivers the 1:1 cards")
    corp_id: str | None = Field(None, description="only clicks from this organisation count")
    api_base: UrlSetting = Field(
        "https://api.dingtalk.com", description="OpenAPI and stream gateway base"
    )
    oapi_base: UrlSetting = Field(
        "https://oapi.dingtalk.com", description="the older topapi (user lookup by mobile)"
    )
    mode: Literal["stream", "http"] = Field(
        "stream", description="stream (long connection) or http (POST /callbacks/dingtalk)"
    )
    card_template_id: str = Field(
        "approval_gateway.schema", description="card template built from cards/templates"
    )
    callback_token: SecretStr | None = Field(
        None, description="HTTP mode: the event-subscription token"
    )
    callback_aes_key: SecretStr | None = Field(
        None, description="HTTP mode: the 43-character event-subscription AES key"
    )
    # 20/s per app and API (notes: dingtalk.md §3.4). A call leaves at most half an interval
    # after its slot (bot.channels.common.ratelimit), so one second sees at most
    # ceil(19 * (1 + 1/38)) = 20 calls from all replicas, with 26 ms left for a call's way
    # there (21 calls need slots 20/19 s apart); 19 uses 0.95 of the limit (18 would use 0.90,
    # and 19.5 could make 21).
    qps: float = Field(19.0, gt=0, description="below the documented 20/s per app and API")
    # As Lark's (LarkSettings.app_burst): up to burst calls at once after a quiet spell, within
    # per_second lanes of one call per 20/19 = 1.0526 s each (a backlog still goes at 19/s);
    # two calls of one lane leave at least 1.0526 - 1/38 = 1.026 s apart: at most 20 in any
    # second, with the same 26 ms for the way there. Off (1) by default: with a burst of 5, two
    # redraw storms in about ten drew one QPS 403 each (Lark's, with 31 ms, drew none): calls
    # going together reach the platform less evenly spaced than 26 ms allows for.
    burst: int = Field(1, ge=1, le=20, description="per API: calls at once after a lull")
    per_second: int = Field(
        20, ge=1, le=20, description="per API: calls in any second (documented: 20/s)"
    )
    throttle_retry_seconds: float = Field(1.0, gt=0, description="pause after a QPS-limit 403")
    ack_budget_seconds: float = Field(
        2.5, gt=0, description="answer a card callback within this (the platform allows 3 s)"
    )
    callback_route_key: str | None = Field(
        None, description="HTTP mode: card callback route key registered for /callbacks/<name>"
    )

    @model_validator(mode="after")
    def _check_second(self) -> DingTalkSettings:
        _within_second(self.qps, self.per_second, "")
        return self


def _within_second(qps: float, per_second: int, prefix: str) -> None:
    # The second's window spans per_second / qps seconds: under a second it would not hold the
    # platform's limit. (A burst over per_second is held to it: the window has no more lanes.)
    if qps > per_second:
        raise ValueError(f"{prefix}qps ({qps:g}) is over {prefix}per_second ({per_second})")


class EmailSettings(_Group):
    """SMTP relay for the email channel; the channel runs when ``host`` is set."""

    host: str | None = Field(None, description="SMTP relay; the email channel runs when set")
    port: int = Field(587, ge=1, le=65535, description="SMTP port")
    security: Literal["starttls", "tls", "none"] = Field(
        "starttls", description="starttls (usually 587), tls (implicit, 465) or none"
    )
    username: str | None = Field(None, description="SMTP login")
    password: SecretStr | None = Field(None, description="SMTP password")
    from_address: str = Field(
        "approvals@localhost",
        pattern=r"^[^@\s<>]+@[^@\s<>]+$",
        description="sender address; its domain is also used in Message-IDs",
    )
    from_name: str = Field("Approval Gateway", description="sender display name")
    timeout_seconds: float = Field(30.0, gt=0, description="SMTP timeout")
    closing_emails: bool = Field(
        False, description="send a short email when a request is decided, withdrawn or expired"
    )


class RateSettings(_Group):
    """What one message costs, shown in each channel's authorization notice."""

    currency: str = Field(
        "CNY", min_length=3, max_length=3, description="currency of the rates in the notices"
    )
    platform_per_message: dict[str, float] = Field(
        default_factory=dict, description="the platform's own price per message, by channel"
    )
    deployment_per_message: float = Field(
        0.0, ge=0, description="what this deployment charges internally per message"
    )
    # SMS and phone urgency are charged by the platform to the tenant (Lark: against the
    # tenant's urgent quota; DingTalk: DING by SMS or phone needs a paid plan). The defaults are
    # typical list prices of a Chinese SMS and voice notification, to be set to the contract's.
    platform_per_urgent_sms: dict[str, float] = Field(
        default_factory=lambda: dict.fromkeys(PAID_URGENCY_CHANNELS, 0.1),
        description="the platform's price per SMS urgency, by channel (shown in the notice)",
    )
    platform_per_urgent_phone: dict[str, float] = Field(
        default_factory=lambda: dict.fromkeys(PAID_URGENCY_CHANNELS, 0.2),
        description="the platform's price per phone urgency, by channel (shown in the notice)",
    )


class ReminderSettings(_Group):
    """Approvals over time: the deployment's defaults; a request's own fields override them.

    Off by default (no reminders, requests expire at ``expires_at``), so requests that name
    none behave as before. Durations are ISO 8601 (``PT30M``).
    """

    after: Duration | None = Field(None, description="first reminder this long after the card")
    every: Duration | None = Field(None, description="then one reminder per this interval")
    max: int | None = Field(None, ge=1, le=10, description="reminders per approver at most")
    urgent: UrgencyKind | None = Field(
        None,
        description="urgency of the reminders where the approver's channel offers it "
        "(sms and phone only where the channel's consent accepted paid urgency, else app)",
    )
    on_expiry: Literal["reject", "expire", "approve"] = Field(
        "expire", description="what happens at expires_at when nobody decided"
    )
    allow_auto_approve: bool = Field(
        False, description='requests may ask for on_expiry "approve" (approval by silence)'
    )
    quiet_hours: str | None = Field(
        None, description="HH:MM-HH:MM in each approver's zone: reminders and urgency wait"
    )
    zones: dict[str, str] = Field(
        default_factory=lambda: dict(DEFAULT_ZONES),
        description="time zone by locale, for approvers without their own",
    )
    remind_now_every: Duration = Field(
        timedelta(minutes=10),
        description="POST /v1/approvals/{ticket_id}/remind reminds an approver at most once "
        "in this interval",
    )

    @field_validator("quiet_hours")
    @classmethod
    def _check_quiet(cls, value: str | None) -> str | None:
        return None if value is None else str(QuietHours.parse(value))

    @field_validator("zones")
    @classmethod
    def _check_zones(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value.values():
            zone(name)
        return value

    @model_validator(mode="after")
    def _check_outcome(self) -> ReminderSettings:
        if self.on_expiry == "approve" and not self.allow_auto_approve:
            raise ValueError("on_expiry = approve needs allow_auto_approve = true")
        return self

    def policy(self) -> TimingPolicy:
        """The core's view of these settings."""
        # Here, not at the top: only serve asks for it, and the CLI's commands load settings too.
        from bot.core.intake import Reminders
        from bot.core.timing.policy import TimingPolicy

        rule = None
        if self.after is not None:
            rule = Reminders(after=self.after, every=self.every, max=self.max, urgent=self.urgent)
        return TimingPolicy(
            reminders=rule,
            on_expiry=self.on_expiry,
            allow_auto_approve=self.allow_auto_approve,
            quiet=QuietHours.parse(self.quiet_hours) if self.quiet_hours else None,
            zones=dict(self.zones),
            remind_now_every=self.remind_now_every,
        )


class Settings(BaseSettings):
    """All gateway settings; see README for the table."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter="__", extra="forbid", validate_default=True
    )
    toml_data: ClassVar[dict[str, Any] | None] = None

    data_dir: Path = Field(Path("./data"), description="holds gateway.db and generated secrets")
    database_url: SecretStr | None = Field(
        None,
        description="postgresql://... selects the PostgreSQL engine (replicas share it); unset: "
        "SQLite in DATA_DIR",
    )
    database_pool_size: int = Field(
        10, ge=2, le=200, description="PostgreSQL: connections this process keeps at most"
    )
    listen: str = Field("127.0.0.1:8080", description="host:port of the HTTP API")
    public_url: UrlSetting | None = Field(
        None, description="external base URL, for links and callbacks"
    )
    backend_url: UrlSetting | None = Field(None, description="where decisions are POSTed")
    backend_secret: SecretStr | None = Field(
        None,
        description="shared with the backend: signs its calls (RFC 9421) and our decisions (whsec_...)",
    )
    backend_vote_events: bool = Field(
        False, description="also POST a signed approval.vote event per counted vote (progress)"
    )
    backend_step_events: bool = Field(
        False,
        description="also POST a signed approval.reminded / approval.escalated event per "
        "reminder or escalation step run",
    )
    sandbox: bool = Field(True, description="run the local sandbox platforms (embedded default)")
    sandbox_platforms: PlatformList = Field(
        # memory reaches every account by id, so it would shadow email; tests ask for it by name
        default_factory=lambda: list(DEFAULT_PLATFORMS),
        description="which sandbox platforms to run",
    )
    log_level: Annotated[LogLevel, BeforeValidator(_upper)] = Field(
        "INFO", description="serve's log level (JSON lines on stderr, the SDKs' own included)"
    )
    default_locale: str = Field("en-US", pattern=r"^(zh-CN|en-US)$", description="zh-CN or en-US")
    backend_timeout_seconds: float = Field(10.0, gt=0, description="per decision webhook attempt")
    channel_order: ChannelList = Field(
        default_factory=lambda: list(DEFAULT_ORDER),
        description="deployment's default channel preference",
    )
    outbox: OutboxSettings = Field(default_factory=OutboxSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
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
    reminders: ReminderSettings = Field(default_factory=ReminderSettings)
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
    rate_limits: Literal["process", "database"] = Field(
        "database",
        description="where the platforms' send budgets are kept: in the database, shared by "
        "every replica on it (and kept across restarts), or in this process",
    )
    callback_window_seconds: float = Field(
        300.0,
        gt=0,
        description="HTTP callbacks (Lark, DingTalk): accepted this fresh, and remembered in the "
        "store this long so a replay is refused",
    )
    china_regions: ListSetting = Field(
        default_factory=lambda: list(CHINA_REGIONS),
        description="regions where DingTalk is offered (mainland China; not cn-hongkong)",
    )
    ready_without_channels: bool = Field(
        False,
        description="/readyz is ready with no channel authorized (an email-only deployment not "
        "yet set up, or one that only records decisions); else that is not ready",
    )

    @field_validator("data_dir")
    @classmethod
    def _check_data_dir(cls, value: Path) -> Path:
        # The first part of the path that exists must be a directory, or nothing can be made in it.
        for part in (value, *value.parents):
            if part.exists():
                if not part.is_dir():
                    raise ValueError(f"{part} exists and is not a directory")
                break
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(
            ("postgresql://", "postgres://")
        ):
            raise ValueError("must be a postgresql:// URL (unset for the SQLite default)")
        return value

    @field_validator("listen")
    @classmethod
    def _check_listen(cls, value: str) -> str:
        host, sep, port = value.rpartition(":")
        if not sep or not host or not port.isdigit() or int(port) > 65535:
            raise ValueError("must be host:port (port 0-65535)")
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
        if cls.toml_data is not None:
            sources.append(InitSettingsSource(settings_cls, init_kwargs=cls.toml_data))
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
    """Read settings from the environment and the optional TOML file; raise ConfigError.

    Every problem is reported on one line: unknown variables and keys (with the nearest valid
    name), a TOML syntax error (``FILE:LINE:COL``), and each invalid value.
    """
    if config is not None and not config.is_file():
        raise ConfigError(f"config file not found: {config}")
    problems = unknown_env(Settings, ENV_PREFIX, os.environ, OTHER_ENV)
    data = read_toml(config) if config is not None else None
    if config is not None and data is not None:
        problems += [f"{config}: {problem}" for problem in unknown_keys(Settings, data)]
    if problems:
        raise ConfigError("; ".join(problems))
    Settings.toml_data = data
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(f"invalid settings: {describe(exc, Settings)}") from None
    except SettingsError as exc:
        # A variable that is not valid JSON for a map or group setting.
        raise ConfigError(f"invalid settings: {describe_parse_error(exc)}") from None
    finally:
        Settings.toml_data = None


def ensure_backend_secret(settings: Settings) -> str:
    """The configured backend secret, or one generated once into the data dir (mode 0600).

    ConfigError when the file is there but empty or damaged (a first start cut short before the
    atomic write existed, or a file edited by hand): running with it would refuse every call.
    """
    if settings.backend_secret is not None:
        return settings.backend_secret.get_secret_value()
    path = settings.data_dir / SECRET_FILE
    if not path.exists():
        private_dir(settings.data_dir)
        fresh = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        write_new_secret_file(path, fresh + "\n")  # or another process's, read below
    secret = read_secret_file(path, "the backend secret")
    if not _is_webhook_secret(secret):
        raise ConfigError(
            f"{path} does not hold a whsec_ secret (damaged?): restore it, or delete it to "
            "generate a new one and give that to the backend"
        )
    return secret


def _is_webhook_secret(text: str) -> bool:
    if not text.startswith("whsec_"):
        return False
    try:
        return len(base64.b64decode(text.removeprefix("whsec_"), validate=True)) >= 16
    except (binascii.Error, ValueError):
        return False


def masked(secret: str) -> str:
    """A secret shown to a person: enough to recognise it, never enough to use it."""
    return secret[:10] + "…" if len(secret) > 10 else "…"
