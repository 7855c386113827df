"""Storage ports of the HTTP and CLI edges: bindings, preferences, tokens, audit, usage, health,
channel consents and sealed secrets.

``bot.core.ports`` holds what the approval use cases need (``Store`` and its units of work);
these protocols are what the operator surfaces need, each listing only the methods its callers
use. Those a signed write changes (bindings, preferences) and the credentials are also
repositories of a unit of work (``bot.core.ports.UnitOfWork``), so this module imports no port. The SQLite
adapters live in ``bot.store``; the composition root (``bot.app.runtime``, ``bot.cli._db``) builds
them once and hands them over, so no handler knows which engine is behind them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal, Protocol

from bot.core.entity import Entity

# --------------------------------------------------------------------------- bindings


class Binding(Entity):
    """One account's identity on one channel, with who bound it, how and when."""

    account_id: str
    channel: str
    address: str
    bound_by: str
    method: str
    bound_at: datetime


class BindingPage(Entity):
    """A page of bindings and the cursor of the next page (None on the last)."""

    items: tuple[Binding, ...]
    next_cursor: str | None = None


class BindingRepo(Protocol):
    """Identity bindings (account ↔ address per channel); addresses come validated by
    ``bot.core.validation.check_binding``."""

    async def set(
        self, account_id: str, channel: str, address: str, *, by: str, method: str, at: datetime
    ) -> Binding:
        """Bind (or re-bind) ``account_id`` on ``channel`` to ``address``."""
        ...

    async def set_many(
        self, rows: Iterable[tuple[str, str, str]], *, by: str, method: str, at: datetime
    ) -> int:
        """Bind every (account_id, channel, address) at once, all or nothing; how many."""
        ...

    async def get(self, account_id: str) -> list[Binding]:
        """Every binding of one account, by channel."""
        ...

    async def list(
        self,
        *,
        channel: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
        unbound: bool = False,
    ) -> BindingPage:
        """One page ordered by (account_id, channel), optionally of one channel (``unbound``:
        of accounts with no binding on it); InvalidInput for a cursor not from a page."""
        ...

    async def remove(self, account_id: str, channel: str, *, by: str, at: datetime) -> bool:
        """Unbind ``account_id`` on ``channel`` (audited as ``by``); False when it was not bound."""
        ...


# --------------------------------------------------------------------------- preferences


class Preferences(Entity):
    """One account's preferences; ``channel_order`` None means the deployment's order."""

    account_id: str
    channel_order: tuple[str, ...] | None = None
    email_enabled: bool = True
    time_zone: str | None = None  # IANA name; None: the zone of each card's locale
    updated_by: str | None = None
    updated_at: datetime | None = None


class PreferenceRepo(Protocol):
    """Per-account routing preferences (channel order, approval email on/off)."""

    async def get(self, account_id: str) -> Preferences:
        """The account's preferences (the defaults when it never set any)."""
        ...

    async def set(
        self,
        account_id: str,
        *,
        order: tuple[str, ...] | None,
        email_enabled: bool | None,
        by: str,
        at: datetime,
        time_zone: str | None = None,
    ) -> Preferences:
        """Change what is given (None keeps it; ``order=()`` resets to the deployment's)."""
        ...


# --------------------------------------------------------------------------- tokens


class ApiToken(Entity):
    """A token's record (never the token itself)."""

    id: str
    role: str
    label: str
    created_at: datetime
    revoked_at: datetime | None = None


class TokenRepo(Protocol):
    """API tokens of admins and support staff, kept as hashes only."""

    async def create(
        self, token: str, role: str, label: str, now: datetime, *, by: str = "cli"
    ) -> ApiToken:
        """Record a new token under ``role`` (audited as created by ``by``)."""
        ...

    async def resolve(self, token: str) -> ApiToken | None:
        """The live token record for ``token``, or None."""
        ...

    async def list(self) -> list[ApiToken]:
        """Every token record, newest first."""
        ...

    async def revoke(self, token_id: str, now: datetime, *, by: str = "cli") -> None:
        """Revoke a token by its id (NotFound unless live); it stops working at once."""
        ...


# --------------------------------------------------------------------------- audit


class AuditEntry(Entity):
    """One audit record."""

    id: int
    at: datetime
    who: str
    action: str
    target: str
    detail: str
    source: str


class AuditPage(Entity):
    """A page of records, newest first; ``next_before`` continues it (None on the last)."""

    items: list[AuditEntry]
    next_before: int | None = None


class AuditRepo(Protocol):
    """Reads the append-only audit log (records are written with the change they describe)."""

    async def page(
        self,
        *,
        limit: int = 100,
        before: int | None = None,
        action: str | None = None,
        who: str | None = None,
        target: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> AuditPage:
        """Newest first, optionally filtered; pass ``next_before`` back for the next page."""
        ...


# --------------------------------------------------------------------------- usage

GroupBy = Literal["day", "account"]


class UsageRow(Entity):
    """Messages of one channel on one day (``group_by=day``) or for one account."""

    channel: str
    day: str | None = None
    account_id: str | None = None
    sent: int = 0
    updated: int = 0
    urgent_sms: int = 0  # paid urgency (reminders, escalation), charged by the platform
    urgent_phone: int = 0


class UsageReport(Entity):
    """Usage between two days (inclusive), grouped, with totals per channel."""

    from_day: str
    to_day: str
    group_by: GroupBy
    rows: list[UsageRow]
    totals: dict[str, dict[str, int]]


class UsageRepo(Protocol):
    """Messages the platforms took, per UTC day, channel and account."""

    async def report(
        self, start: date, end: date, *, channel: str | None = None, group_by: GroupBy = "day"
    ) -> UsageReport:
        """Counts from ``start`` to ``end`` (inclusive, UTC days); InvalidInput if reversed."""
        ...

    async def month(self, now: datetime) -> dict[str, dict[str, int]]:
        """Per channel, messages sent and updated since the start of ``now``'s month (UTC)."""
        ...

    async def totals(self) -> dict[tuple[str, str], int]:
        """All-time messages per (channel, kind), for ``/metrics``."""
        ...


# --------------------------------------------------------------------------- health


class StoreGauges(Entity):
    """What ``/metrics`` shows of the store, read in one snapshot."""

    outbox: dict[str, int]  # pending jobs per kind
    deliveries: dict[tuple[str, str], int]  # per (channel, state)
    requests: dict[str, int]  # per status


class StoreHealth(Protocol):
    """Readiness and gauges of the storage engine."""

    async def problem(self) -> str | None:
        """None when the store is open and can write, else why not (for ``/readyz``)."""
        ...

    def listener(self) -> tuple[bool, str] | None:
        """Whether this process hears the changes other replicas make (and in words: how it
        stands); None where no other process writes the store."""
        ...

    async def gauges(self) -> StoreGauges:
        """Outbox depth, deliveries and requests counted, for ``/metrics``."""
        ...


# --------------------------------------------------------------------------- consents

ConsentState = Literal["authorized", "revoked"]


class ChannelAuthorization(Entity):
    """The latest consent decision on one channel: who, when, on which notice version."""

    channel: str
    state: ConsentState
    by: str
    at: datetime
    notice_version: str
    # The admin also accepted the notice's SMS and phone urgency, which the platform charges.
    paid_urgency: bool = False


class ConsentRepo(Protocol):
    """Recorded channel consents, read outside any unit of work (a consent is written with the
    change it goes with, through :class:`CredentialRepo` of that unit)."""

    async def all(self) -> dict[str, ChannelAuthorization]:
        """Every channel's latest decision, by channel."""
        ...


# --------------------------------------------------------------------------- sealed secrets


@dataclass(frozen=True, slots=True)
class Sealed:
    """One encrypted value: the id of the key that sealed it and nonce + ciphertext."""

    key_id: str
    blob: bytes


class CredentialRepo(Protocol):
    """Consents and sealed values of one unit of work: sealed values by name (channel
    credentials, the master key's sentinel), the sealed bodies of kept answers, and the consent
    the credentials go with. A rotation re-seals all of them in one unit."""

    async def get(self, name: str) -> Sealed | None:
        """The sealed value called ``name``, or None."""
        ...

    async def put(self, name: str, sealed: Sealed, at: datetime) -> None:
        """Insert or replace the sealed value called ``name``."""
        ...

    async def delete(self, name: str) -> bool:
        """Delete it (overwritten first, so the old bytes do not linger); False when absent."""
        ...

    async def every(self) -> list[tuple[str, Sealed]]:
        """Every sealed value with its name."""
        ...

    async def sealed_answers(self) -> list[tuple[str, Sealed]]:
        """Every kept answer whose body is sealed, by request id."""
        ...

    async def reseal_answer(self, request_id: str, sealed: Sealed) -> None:
        """Replace a kept answer's sealed body."""
        ...

    async def record_consent(self, authorization: ChannelAuthorization) -> None:
        """Insert or replace a channel's consent decision."""
        ...


__all__ = [
    "ApiToken",
    "AuditEntry",
    "AuditPage",
    "AuditRepo",
    "Binding",
    "BindingPage",
    "BindingRepo",
    "ChannelAuthorization",
    "ConsentRepo",
    "ConsentState",
    "CredentialRepo",
    "GroupBy",
    "PreferenceRepo",
    "Preferences",
    "Sealed",
    "StoreGauges",
    "StoreHealth",
    "TokenRepo",
    "UsageRepo",
    "UsageReport",
    "UsageRow",
]
