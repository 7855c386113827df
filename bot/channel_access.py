"""Channel authorization with consent: nothing is sent on a channel before an admin agreed to it.

An admin reads the channel's notice (what the gateway does with the credential, what each message
costs), accepts that exact version, and optionally hands over credentials. The gateway checks
they work, seals them, records the consent and starts the channel. Revoking stops the channel,
deletes the credential row and moves the channel's queued deliveries elsewhere.

The in-memory ``authorized`` set is what the router and the outbox consult on every send; it is
changed before the database on revoke (stop sending first) and after it on authorize (never send
on a consent that did not commit).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Collection
from typing import Any

from pydantic import BaseModel

from bot.config import Settings
from bot.core.models import DeliveryState
from bot.core.ports import Channel, ChannelHealth, Clock, InboundSink, Wakeup
from bot.core.service import ApprovalService
from bot.errors import ChannelError, InvalidInput, NotFound
from bot.logs import kv
from bot.store.audit import audit
from bot.store.authorizations import AuthorizationStore, ChannelAuthorization
from bot.store.sqlite import SqliteStore

log = logging.getLogger("bot.channels.access")

SYSTEM = "system"
REVOKED_REASON = "channel revoked"

# Which credential fields each channel accepts over the API (the rest comes from settings).
CREDENTIAL_FIELDS: dict[str, frozenset[str]] = {
    "lark": frozenset({"app_id", "app_secret", "encrypt_key", "verification_token"}),
    "dingtalk": frozenset(
        {"client_id", "client_secret", "robot_code", "callback_token", "callback_aes_key"}
    ),
    "email": frozenset({"host", "port", "security", "username", "password", "from_address"}),
}
CREDENTIAL_FIELDS["dingtalk_enterprise"] = CREDENTIAL_FIELDS["dingtalk"]

_USES = (
    "The gateway keeps the credentials encrypted at rest (AES-256-GCM under this deployment's "
    "master key) and uses them only to obtain access tokens, to send approval cards to the "
    "approvers bound on this channel, to update those cards when a request is decided, withdrawn "
    "or expires, and to receive approvers' clicks and bind messages. They are never returned by "
    "the API nor written to logs. Revoking stops the channel at once and deletes them."
)


class ConsentRequired(InvalidInput):
    """The notice was not accepted, or a different version of it was read."""

    code = "consent_required"
    status = 400


class Notice(BaseModel):
    """What an admin agrees to when authorizing a channel."""

    channel: str
    version: str
    uses: str
    billing: dict[str, Any]
    credential_fields: list[str]
    credentials_in_settings: bool


class ChannelStatus(BaseModel):
    """One channel as ``GET /v1/channels`` shows it (never a credential)."""

    channel: str
    kind: str
    state: str
    running: bool
    authorized_by: str | None = None
    authorized_at: str | None = None
    notice_version: str | None = None
    notice_current: bool = False
    health: ChannelHealth | None = None
    usage_this_month: dict[str, int] | None = None  # filled in by the API from the usage table


class AuthorizeResult(BaseModel):
    """The answer to an authorization: the state, the check made, and what to set up next."""

    channel: str
    state: str
    notice_version: str
    credentials: str
    check: str
    next_steps: list[str]


class ChannelAccess:
    """Holds each channel's consent state and starts or stops channels to match it."""

    def __init__(
        self,
        settings: Settings,
        store: AuthorizationStore,
        db: SqliteStore,
        clock: Clock,
        channels: dict[str, Channel],
    ) -> None:
        self._settings = settings
        self._repo = store
        self._db = db
        self._clock = clock
        self.channels = channels
        self._records: dict[str, ChannelAuthorization] = {}
        self._running: set[str] = set()
        self._sink: InboundSink | None = None
        self._service: ApprovalService | None = None
        self._wakeup: Wakeup | None = None

    def authorized(self, name: str) -> bool:
        """May anything be sent on ``name`` right now."""
        record = self._records.get(name)
        return record is not None and record.state == "authorized"

    # -- start-up ------------------------------------------------------------------------
    async def load(self, system_consent: Collection[str]) -> None:
        """Read the stored consents; record the system's for ``system_consent`` channels seen
        for the first time (sandbox stand-ins), and rebuild channels from stored credentials."""
        self._records = await self._repo.all()
        now = self._clock.now()
        fresh = [n for n in system_consent if n in self.channels and n not in self._records]
        async with self._db.write() as tx:
            for name in fresh:
                record = ChannelAuthorization(
                    channel=name,
                    state="authorized",
                    by=SYSTEM,
                    at=now,
                    notice_version=self.notice(name).version,
                )
                await self._repo.record(tx, record)
                await audit(tx, now, SYSTEM, "channel.authorize", name, "sandbox default", "start")
                self._records[name] = record
        for name in list(self._records):
            stored = await self._repo.credentials(name) if self.authorized(name) else None
            if stored:
                self.channels[name] = build_channel(
                    name, self.channels.get(name), self._settings, stored
                )

    async def start(self, sink: InboundSink, service: ApprovalService, wakeup: Wakeup) -> None:
        """Start every authorized channel; the others stay stopped."""
        self._sink, self._service, self._wakeup = sink, service, wakeup
        for name, channel in self.channels.items():
            if self.authorized(name):
                await channel.start(sink)
                self._running.add(name)

    # -- the notice ----------------------------------------------------------------------
    def notice(self, name: str) -> Notice:
        """The notice for ``name``; its version changes whenever its content does."""
        rates = self._settings.rates
        billing = {
            "unit": "message (each card sent, each card update, each email)",
            "currency": rates.currency,
            "platform_per_message": rates.platform_per_message.get(name, 0.0),
            "deployment_per_message": rates.deployment_per_message,
            "note": "the platform bills the organisation's app per its own price list; "
            "the deployment rate is this gateway's internal charge",
        }
        fields = sorted(CREDENTIAL_FIELDS.get(name, frozenset()))
        content = json.dumps([name, _USES, billing, fields], sort_keys=True)
        version = hashlib.sha256(content.encode()).hexdigest()[:12]
        return Notice(
            channel=name,
            version=version,
            uses=_USES,
            billing=billing,
            credential_fields=fields,
            credentials_in_settings=name in self.channels,
        )

    def known(self, name: str) -> None:
        """NotFound unless ``name`` is a channel this gateway runs or can build."""
        if name not in self.channels and name not in CREDENTIAL_FIELDS:
            raise NotFound(f"no channel {name}")

    # -- listing -------------------------------------------------------------------------
    def statuses(self) -> list[ChannelStatus]:
        """Every channel this gateway knows, running or not."""
        names = list(self.channels) + [n for n in self._records if n not in self.channels]
        return [self.status(name) for name in names]

    def status(self, name: str) -> ChannelStatus:
        """One channel's consent state and health."""
        record = self._records.get(name)
        channel = self.channels.get(name)
        return ChannelStatus(
            channel=name,
            kind=channel.kind if channel else "chat",
            state=record.state if record else "unauthorized",
            running=name in self._running,
            authorized_by=record.by if record else None,
            authorized_at=record.at.isoformat() if record else None,
            notice_version=record.notice_version if record else None,
            notice_current=bool(record and record.notice_version == self.notice(name).version),
            health=channel.health() if channel and name in self._running else None,
        )

    # -- authorize / revoke --------------------------------------------------------------
    async def authorize(
        self,
        name: str,
        by: str,
        accept_notice: bool,
        notice_version: str,
        credentials: dict[str, str] | None,
        source: str,
    ) -> AuthorizeResult:
        """Check, seal, record consent, start; ConsentRequired (nothing stored) without it."""
        self.known(name)
        current = self.notice(name).version
        if not accept_notice:
            raise ConsentRequired("the notice must be accepted", {"accept_notice": "must be true"})
        if notice_version != current:
            raise ConsentRequired(
                "the notice changed since it was read; read it again",
                {"notice_version": f"current version is {current}"},
            )
        candidate = self._candidate(name, credentials)
        check = await _check(candidate)
        now = self._clock.now()
        record = ChannelAuthorization(
            channel=name, state="authorized", by=by, at=now, notice_version=current
        )
        async with self._db.write() as tx:
            if credentials:
                await self._repo.put_credentials(tx, name, credentials, now)
            await self._repo.record(tx, record)
            fields = ",".join(sorted(credentials or {}))
            await audit(
                tx, now, by, "channel.authorize", name, f"notice {current}; {fields}", source
            )
        await self._swap(name, candidate)
        self._records[name] = record
        await self._ensure_running(name)
        log.info("channel authorized", extra=kv(channel=name, by=by))
        return AuthorizeResult(
            channel=name,
            state="authorized",
            notice_version=current,
            credentials="stored encrypted" if credentials else "from settings",
            check=check,
            next_steps=[
                f"bind approvers: PUT /v1/bindings/{{account_id}} with channel {name!r}, or "
                "approval-gateway bindings import FILE, or self-service 'bind CODE' in chat",
                f"channel order: APPROVAL_GATEWAY_CHANNEL_ORDER decides where {name} ranks",
                "check it: GET /v1/channels shows the stream's health",
            ],
        )

    async def revoke(self, name: str, by: str, source: str) -> int:
        """Stop sending, delete the credential, move queued deliveries; returns how many."""
        self.known(name)
        record = self._records.get(name)
        if record is None or record.state != "authorized":
            raise NotFound(f"{name} is not authorized")
        now = self._clock.now()
        revoked = record.model_copy(update={"state": "revoked", "by": by, "at": now})
        self._records[name] = revoked  # first: no new send may start from here on
        async with self._db.write() as tx:
            await self._repo.record(tx, revoked)
            deleted = await self._repo.delete_credentials(tx, name)
            moved = await self._move_queued(tx, name)
            detail = f"credential {'deleted' if deleted else 'from settings'}; {moved} rerouted"
            await audit(tx, now, by, "channel.revoke", name, detail, source)
        await self._stop(name)
        if self._wakeup is not None:
            self._wakeup.notify()
        log.info("channel revoked", extra=kv(channel=name, by=by, moved=moved))
        return moved

    async def _move_queued(self, tx: Any, name: str) -> int:
        rows = await tx.fetch_all(
            "SELECT id FROM deliveries WHERE channel = ? AND state = ?",
            (name, DeliveryState.QUEUED.value),
        )
        assert self._service is not None
        now = self._clock.now()
        for row in rows:
            await tx.set_delivery_state(
                row["id"], DeliveryState.FAILED, now, REVOKED_REASON, reason=REVOKED_REASON
            )
            delivery = await tx.get_delivery(row["id"])
            await self._service.reroute(tx, delivery, REVOKED_REASON)
        return len(rows)

    # -- channel lifecycle ---------------------------------------------------------------
    def _candidate(self, name: str, credentials: dict[str, str] | None) -> Channel:
        current = self.channels.get(name)
        if credentials:
            unknown = set(credentials) - CREDENTIAL_FIELDS.get(name, frozenset())
            if unknown:
                fields = {f"credentials.{k}": "not a credential of this channel" for k in unknown}
                raise InvalidInput(f"unknown credential fields for {name}", fields)
            return build_channel(name, current, self._settings, credentials)
        if current is None:
            raise InvalidInput(
                f"{name} has no credentials in settings: pass them",
                {"credentials": f"required: {', '.join(sorted(CREDENTIAL_FIELDS[name]))}"},
            )
        return current

    async def _swap(self, name: str, candidate: Channel) -> None:
        if self.channels.get(name) is not candidate:
            await self._stop(name)
            self.channels[name] = candidate

    async def _ensure_running(self, name: str) -> None:
        if name not in self._running and self._sink is not None:
            await self.channels[name].start(self._sink)
            self._running.add(name)

    async def _stop(self, name: str) -> None:
        channel = self.channels.get(name)
        if name in self._running and channel is not None:
            self._running.discard(name)
            await channel.stop()


async def _check(channel: Channel) -> str:
    """Run the channel's credential check when it has one; say what was checked."""
    check = getattr(channel, "check", None)
    if not callable(check):
        return f"skipped: {channel.name} has no credential check"
    try:
        await check()
    except ChannelError as exc:
        await channel.stop()  # release what the check opened (sessions) on a channel never started
        raise InvalidInput(
            f"{channel.name} refused the credentials: {exc.message}",
            {"credentials": "refused by the platform"},
        ) from None
    return "credentials accepted by the platform"


def build_channel(
    name: str, current: Channel | None, settings: Settings, credentials: dict[str, str]
) -> Channel:
    """A channel for ``name`` from its settings (or the running one's) plus ``credentials``."""
    base: BaseModel = getattr(current, "settings", None) or getattr(settings, name)
    merged = type(base).model_validate({**base.model_dump(), **credentials})
    if name == "lark":
        from bot.channels.lark import LarkChannel

        return LarkChannel(merged, name)  # type: ignore[arg-type]
    if name in ("dingtalk", "dingtalk_enterprise"):
        from bot.channels.dingtalk import DingTalkChannel

        return DingTalkChannel(name, merged)  # type: ignore[arg-type]
    if name == "email":
        from bot.channels.email import EmailChannel

        return EmailChannel(merged)  # type: ignore[arg-type]
    raise InvalidInput(f"{name} takes no credentials", {"credentials": "not accepted"})
