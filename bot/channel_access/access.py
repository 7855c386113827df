"""The consent policy and the channels' lifecycle that follows it.

A channel's state is derived, never stored twice: ``unauthorized`` and ``revoked`` come from the
record; an authorized record whose notice changed since (new rates) is ``consent_needed`` (it
sends nothing; its queued cards wait for renewed consent up to ``consent_wait_seconds``, then fall
back through routing); one with no usable credential (none stored, none in settings, or one that
does not open) is ``broken``. Only ``authorized`` sends. The router and the outbox consult this on
every send; the in-memory record changes before the database on revoke (stop sending first) and
after it on authorize (never send on a consent that did not commit).

Replicas share the records: a change made through another replica is taken up by
:meth:`ChannelAccess.refresh` (run by ``bot.app.runtime`` when the store says consents changed, and
periodically), which starts, switches or stops the channel here as that replica did there.

Over 400 lines on purpose: the consent states and the channel lifecycle they drive are one
state machine, changed locally or by another replica, under one lock.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection
from datetime import datetime, timedelta
from typing import Literal

from bot.channel_access.credentials import ChannelCredentials
from bot.channel_access.factory import UnusableChannel, build_channel, check_credentials
from bot.channel_access.models import (
    AUTHORIZED,
    BROKEN,
    CONSENT_NEEDED,
    SOURCES,
    AuthorizeResult,
    ChannelStatus,
    ConsentRequired,
    Source,
)
from bot.channel_access.notice import (
    Notice,
    credential_fields,
    make_notice,
    next_steps,
    offers_paid_urgency,
)
from bot.channel_access.running import RunningChannels
from bot.core.directory import ChannelDirectory
from bot.core.limits import RateLimits
from bot.core.models import DeliveryState
from bot.core.ports import Channel, Clock, InboundSink, Store, UnitOfWork, Wakeup
from bot.core.service import SEND_CARD, UPDATE_CARD, ApprovalService
from bot.core.storage import ChannelAuthorization, ConsentRepo
from bot.errors import ChannelError, GatewayError, InvalidInput, NotFound, StoreError
from bot.logs import kv
from bot.settings.config import Settings

log = logging.getLogger("bot.channels.access")

SYSTEM = "system"
REVOKED_REASON = "channel revoked"


class ChannelAccess:
    """Holds each channel's consent state and starts or stops channels to match it."""

    def __init__(
        self,
        settings: Settings,
        consents: ConsentRepo,
        credentials: ChannelCredentials,
        db: Store,
        clock: Clock,
        channels: ChannelDirectory,
        limits: RateLimits,
    ) -> None:
        self._settings = settings
        # The budgets the composition root gave every channel: one built here takes them too.
        self._limits = limits
        self._repo = consents
        self._credentials = credentials
        self._db = db
        self._clock = clock
        # The one writable directory: routing, the outbox and the API read it through `channels`.
        self._directory = RunningChannels(channels)
        # Channels whose credentials the settings (or a sandbox stand-in) provide.
        self._from_settings: dict[str, Channel] = dict(channels)
        self._stored: set[str] = set()  # running on a credential opened from the database
        self._broken: dict[str, str] = {}
        self._versions: dict[str, str] = {}
        self._records: dict[str, ChannelAuthorization] = {}
        self._running: set[str] = set()
        self._sink: InboundSink | None = None
        self._service: ApprovalService | None = None
        self._wakeup: Wakeup | None = None
        self._built_from: dict[str, dict[str, str]] = {}  # the stored credential each runs on
        # One consent change at a time, made here or taken up from another replica: a refresh
        # must never apply a record read before a local change committed.
        self._lock = asyncio.Lock()

    @property
    def channels(self) -> ChannelDirectory:
        """The channels running now (read-only: only this class puts and drops them)."""
        return self._directory

    def state(self, name: str) -> str:
        """unauthorized, revoked, consent_needed, broken or authorized (the only one that sends)."""
        record = self._records.get(name)
        if record is None:
            return "unauthorized"
        if record.state != AUTHORIZED:
            return record.state
        if name in self._broken:
            return BROKEN
        if record.notice_version != self._version(name):
            return CONSENT_NEEDED
        return AUTHORIZED

    def authorized(self, name: str) -> bool:
        """May anything be sent on ``name`` right now."""
        return self.state(name) == AUTHORIZED

    def paid_urgency(self, name: str) -> bool:
        """Whether ``name`` may use SMS and phone urgency: it sends, and its admin accepted
        their cost with the notice now current (``paid_urgency`` in the consent)."""
        record = self._records.get(name)
        return self.authorized(name) and record is not None and record.paid_urgency

    def refusal(self, name: str) -> str | None:
        """Why nothing may be sent on ``name`` now (None when it may), for traces and answers."""
        state = self.state(name)
        if state == AUTHORIZED:
            return None
        if state == CONSENT_NEEDED:
            return f"{name} needs consent again: its notice changed (now {self._version(name)})"
        if state == BROKEN:
            why = self._broken.get(name, "no credential: none stored and none in settings")
            return f"{name} is broken: {why}"
        return f"{name} is not authorized"

    def check_send(self, name: str, queued_at: datetime) -> None:
        """ChannelError unless a job queued at ``queued_at`` may use ``name`` now.

        A channel waiting for renewed consent holds the job (retryable) until
        ``consent_wait_seconds`` after it was queued; then, and for any other refusal, the
        error is permanent and the card falls back through routing.
        """
        why = self.refusal(name)
        if why is None:
            return
        until = queued_at + timedelta(seconds=self._settings.consent_wait_seconds)
        if self.state(name) == CONSENT_NEEDED and self._clock.now() < until:
            raise ChannelError(f"{why}; waiting for it until {until.isoformat()}")
        raise ChannelError(why, retryable=False)

    # -- start-up ------------------------------------------------------------------------
    async def load(self, system_consent: Collection[str]) -> None:
        """Read the stored consents; record the system's for ``system_consent`` channels seen
        for the first time (sandbox stand-ins) or whose system consent predates the notice,
        and rebuild channels from stored credentials (``broken`` where that fails)."""
        self._records = await self._repo.all()
        await self._system_consent(system_consent)
        for name, record in self._records.items():
            if record.state == AUTHORIZED:
                await self._rebuild(name)

    async def _system_consent(self, names: Collection[str]) -> None:
        now = self._clock.now()
        fresh = [n for n in names if n in self._directory and self._system_may_consent(n)]
        async with self._db.unit() as uow:
            for name in fresh:
                record = ChannelAuthorization(
                    channel=name,
                    state=AUTHORIZED,
                    by=SYSTEM,
                    at=now,
                    notice_version=self._version(name),
                )
                await uow.credentials.record_consent(record)
                await uow.ledger.audit(
                    now, SYSTEM, "channel.authorize", name, "sandbox default", "start"
                )
                self._records[name] = record

    def _system_may_consent(self, name: str) -> bool:
        # Sandbox stand-ins reach nobody and spend nothing: the system renews its own consent
        # when their notice changes. Never over an admin's decision (a revoke, their consent).
        record = self._records.get(name)
        if record is None:
            return True
        stale = record.notice_version != self._version(name)
        return record.by == SYSTEM and record.state == AUTHORIZED and stale

    async def _rebuild(self, name: str) -> None:
        try:
            stored = await self._credentials.get(name)
            if stored:
                base = self._from_settings.get(name)
                built = build_channel(name, base, self._settings, stored, self._limits)
                self._directory.put(name, built)
                self._stored.add(name)
                self._built_from[name] = stored
        except StoreError as exc:
            self._broken[name] = f"its stored credential does not open ({exc.message})"
        except (GatewayError, ValueError) as exc:
            self._broken[name] = f"its stored credential is unusable ({type(exc).__name__})"
        if name not in self._directory and name not in self._broken:
            self._broken[name] = "no credential: none stored and none in settings"
        if name in self._broken:
            # A stand-in keeps the channel visible to routing, which traces why it is skipped.
            if name not in self._directory:
                self._directory.put(name, UnusableChannel(name))
            log.error("channel broken", extra=kv(channel=name, why=self._broken[name]))

    async def start(self, sink: InboundSink, service: ApprovalService, wakeup: Wakeup) -> None:
        """Start every authorized channel; the others stay stopped."""
        self._sink, self._service, self._wakeup = sink, service, wakeup
        for name, channel in self._directory.items():
            if self.authorized(name):
                await channel.start(sink)
                self._running.add(name)

    # -- the notice ----------------------------------------------------------------------
    def notice(self, name: str) -> Notice:
        """The notice for ``name``; its version changes whenever its content does."""
        return make_notice(
            self._settings, name, credentials_in_settings=name in self._from_settings
        )

    def _version(self, name: str) -> str:
        # The notice is a function of the settings, which do not change while running.
        if name not in self._versions:
            self._versions[name] = self.notice(name).version
        return self._versions[name]

    def known(self, name: str) -> None:
        """NotFound unless ``name`` is a channel this gateway runs or can build."""
        if name not in self._directory and not credential_fields(name):
            raise NotFound(f"no channel {name}")

    # -- listing -------------------------------------------------------------------------
    def statuses(self) -> list[ChannelStatus]:
        """Every channel this gateway knows, running or not."""
        names = list(self._directory) + [n for n in self._records if n not in self._directory]
        return [self.status(name) for name in names]

    def status(self, name: str) -> ChannelStatus:
        """One channel's consent state and health."""
        record = self._records.get(name)
        channel = self._directory.get(name)
        state = self.state(name)
        return ChannelStatus(
            channel=name,
            kind=channel.kind if channel else "chat",
            state=state,
            running=name in self._running,
            authorized_by=record.by if record else None,
            authorized_at=record.at.isoformat() if record else None,
            notice_version=record.notice_version if record else None,
            notice_current=bool(record and record.notice_version == self._version(name)),
            paid_urgency=self.paid_urgency(name),
            credentials=self._source(name),
            detail=self.refusal(name) if state in (CONSENT_NEEDED, BROKEN) else None,
            health=channel.health() if channel and name in self._running else None,
        )

    def _source(self, name: str) -> Literal["stored", "settings"] | None:
        if name in self._stored:
            return "stored"
        from_settings = self._from_settings.get(name)
        if from_settings is not None and self._directory.get(name) is from_settings:
            return "settings"
        return None

    def readiness(self) -> dict[str, tuple[bool | None, str]]:
        """Per channel: (counts as ready, what to say); None: switched off on purpose.

        An authorized channel is ready when its stream is connected; one that needs consent or
        is broken is not ready (approvers bound there are not reached); an unauthorized or
        revoked one is off by an admin's choice and does not count.
        """
        out: dict[str, tuple[bool | None, str]] = {}
        for status in self.statuses():
            if status.state == AUTHORIZED and status.health is not None:
                health = status.health
                detail = health.detail or ("connected" if health.connected else "disconnected")
                out[status.channel] = (health.connected, detail)
            elif status.state == AUTHORIZED:
                out[status.channel] = (False, "not running")
            elif status.state in (CONSENT_NEEDED, BROKEN):
                out[status.channel] = (False, f"{status.state}: {status.detail}")
            else:
                out[status.channel] = (None, status.state)
        return out

    # -- authorize / revoke --------------------------------------------------------------
    async def authorize(
        self,
        name: str,
        by: str,
        accept_notice: bool,
        notice_version: str,
        credentials: dict[str, str] | None,
        where: str,
        *,
        paid_urgency: bool = False,
    ) -> AuthorizeResult:
        """Check, seal, record consent (with ``paid_urgency`` when the admin accepted SMS and
        phone urgency too), start; ConsentRequired (nothing stored) without it."""
        self.known(name)
        current = self.notice(name).version
        if not accept_notice:
            raise ConsentRequired("the notice must be accepted", {"accept_notice": "must be true"})
        if paid_urgency and not offers_paid_urgency(name):
            raise InvalidInput(
                f"{name} has no paid urgency", {"paid_urgency": "not offered by this channel"}
            )
        if notice_version != current:
            raise ConsentRequired(
                "the notice changed since it was read; read it again",
                {"notice_version": f"current version is {current}"},
            )
        candidate, source = self._candidate(name, credentials)
        check = await check_credentials(candidate, running=self._is_live(name, candidate))
        async with self._lock:
            record = await self._record_consent(
                name, (by, where), (current, paid_urgency), (credentials, source)
            )
            await self._swap(name, candidate, source)
            if credentials:
                self._built_from[name] = dict(credentials)
            self._records[name] = record  # after the commit and the swap: sends start here
            await self._ensure_running(name)
        if self._wakeup is not None:
            self._wakeup.notify()  # cards waiting for this consent go now
        log.info("channel authorized", extra=kv(channel=name, by=by, credentials=source))
        return AuthorizeResult(
            channel=name,
            state=self.state(name),
            notice_version=current,
            credentials=SOURCES[source],
            check=check,
            next_steps=next_steps(name),
        )

    async def _record_consent(
        self,
        name: str,
        who: tuple[str, str],
        accepted: tuple[str, bool],
        given: tuple[dict[str, str] | None, Source],
    ) -> ChannelAuthorization:
        (by, where), (version, paid), (credentials, source) = who, accepted, given
        now = self._clock.now()
        record = ChannelAuthorization(
            channel=name, state=AUTHORIZED, by=by, at=now, notice_version=version, paid_urgency=paid
        )
        async with self._db.unit() as uow:
            if credentials:
                await self._credentials.put(uow, name, credentials, now)
            await uow.credentials.record_consent(record)
            fields = ",".join(sorted(credentials or {}))
            detail = f"notice {version}; credentials {source}{': ' + fields if fields else ''}"
            detail += "; paid urgency accepted" if paid else ""
            await uow.ledger.audit(now, by, "channel.authorize", name, detail, where)
            await uow.outbox.wake_channel(name, (SEND_CARD, UPDATE_CARD), now)
        return record

    async def revoke(self, name: str, by: str, source: str) -> int:
        """Stop sending, delete the credential, move queued deliveries; returns how many."""
        self.known(name)
        async with self._lock:
            moved = await self._revoke(name, by, source)
        if self._wakeup is not None:
            self._wakeup.notify()
        log.info("channel revoked", extra=kv(channel=name, by=by, moved=moved))
        return moved

    async def _revoke(self, name: str, by: str, source: str) -> int:
        record = self._records.get(name)
        if record is None or record.state != "authorized":
            raise NotFound(f"{name} is not authorized")
        now = self._clock.now()
        revoked = record.model_copy(update={"state": "revoked", "by": by, "at": now})
        self._records[name] = revoked  # first: no new send may start from here on
        async with self._db.unit() as uow:
            await uow.credentials.record_consent(revoked)
            deleted = await self._credentials.delete(uow, name)
            moved = await self._move_queued(uow, name)
            detail = f"credential {'deleted' if deleted else 'from settings'}; {moved} rerouted"
            await uow.ledger.audit(now, by, "channel.revoke", name, detail, source)
        await self._stop(name)
        self._forget(name)
        return moved

    async def _move_queued(self, uow: UnitOfWork, name: str) -> int:
        ids = await uow.deliveries.on_channel(name, DeliveryState.QUEUED)
        assert self._service is not None
        now = self._clock.now()
        for delivery_id in ids:
            await uow.deliveries.set_state(
                delivery_id, DeliveryState.FAILED, now, REVOKED_REASON, reason=REVOKED_REASON
            )
            delivery = await uow.deliveries.get(delivery_id)
            assert delivery is not None  # just updated in this transaction
            await self._service.reroute(uow, delivery, REVOKED_REASON)
        return len(ids)

    # -- changes made through other replicas ---------------------------------------------
    async def refresh(self) -> list[str]:
        """Take up the consents as stored: a channel authorized, renewed or revoked through
        another replica starts, switches credential or stops here as well (its queued cards
        were already woken or rerouted by that replica). Returns the channels that changed."""
        async with self._lock:
            records = await self._repo.all()
            names = sorted(set(records) | set(self._records))
            changed = [n for n in names if records.get(n) != self._records.get(n)]
            for name in changed:
                await self._take_up(name, records.get(name))
        if changed and self._wakeup is not None:
            self._wakeup.notify()
        return changed

    async def _take_up(self, name: str, record: ChannelAuthorization | None) -> None:
        if record is None or record.state != AUTHORIZED:
            self._records.pop(name, None)
            if record is not None:
                self._records[name] = record  # first: no new send may start from here on
            await self._stop(name)
            self._forget(name)
        else:
            await self._take_up_credential(name)
            self._records[name] = record
            if self.authorized(name):
                await self._ensure_running(name)
        log.info(
            "channel consent changed on another replica",
            extra=kv(channel=name, state=self.state(name), by=record.by if record else None),
        )

    async def _take_up_credential(self, name: str) -> None:
        # Run on the credential the other replica stored, rebuilt only when it is not the one
        # running here; with none stored, on the settings' one.
        try:
            stored = await self._credentials.get(name)
        except StoreError:
            stored = None  # _rebuild finds it again and says why the channel is broken
        unchanged = stored == self._built_from.get(name) and name in self._directory
        if unchanged and name not in self._broken:
            return
        await self._stop(name)
        self._forget(name)
        self._broken.pop(name, None)
        await self._rebuild(name)

    # -- channel lifecycle ---------------------------------------------------------------
    def _candidate(self, name: str, credentials: dict[str, str] | None) -> tuple[Channel, Source]:
        # Credentials given win; else the one stored earlier (consent renewed); else settings.
        if credentials:
            unknown = set(credentials) - credential_fields(name)
            if unknown:
                fields = {f"credentials.{k}": "not a credential of this channel" for k in unknown}
                raise InvalidInput(f"unknown credential fields for {name}", fields)
            base = self._from_settings.get(name)
            built = build_channel(name, base, self._settings, credentials, self._limits)
            return built, "given"
        if name in self._stored and name in self._directory:
            return self._directory[name], "stored"
        if name in self._from_settings:
            return self._from_settings[name], "settings"
        wanted = ", ".join(sorted(credential_fields(name))) or "its credentials"
        raise InvalidInput(
            f"{name} has no credentials in settings and none stored: pass them",
            {"credentials": f"required: {wanted}"},
        )

    def _is_live(self, name: str, candidate: Channel) -> bool:
        return name in self._running and self._directory.get(name) is candidate

    async def _swap(self, name: str, candidate: Channel, source: Source) -> None:
        if self._directory.get(name) is not candidate:
            await self._stop(name)
            self._directory.put(name, candidate)
        if source == "given":
            self._stored.add(name)
        elif source == "settings":
            self._stored.discard(name)
            self._built_from.pop(name, None)
        self._broken.pop(name, None)

    def _forget(self, name: str) -> None:
        # The channel built from the deleted credential must not outlive it: nothing may send
        # with it again, nor may a later authorization without credentials pick it up.
        if self._broken.pop(name, None) is not None and name not in self._from_settings:
            self._directory.drop(name)  # the stand-in
        if name not in self._stored:
            return
        self._stored.discard(name)
        self._built_from.pop(name, None)
        original = self._from_settings.get(name)
        if original is None:
            self._directory.drop(name)
        else:
            self._directory.put(name, original)

    async def _ensure_running(self, name: str) -> None:
        if name not in self._running and self._sink is not None:
            await self._directory[name].start(self._sink)
            self._running.add(name)

    async def _stop(self, name: str) -> None:
        channel = self._directory.get(name)
        if name in self._running and channel is not None:
            self._running.discard(name)
            await channel.stop()
