"""Per-account routing preferences (channel order, approval email on/off) and pending emails.

An email address waits in ``email_verifications`` until its owner types the code sent to it; only
then is it written to ``bindings``, so routing never sees an address nobody has confirmed.
"""

from __future__ import annotations

import hmac
import logging
from datetime import datetime

from bot.core.ports import PendingEmail
from bot.core.storage import Preferences
from bot.core.validation import check_account, check_order
from bot.logs import kv
from bot.store.codec import parse_ts, ts
from bot.store.repos.identities import IdentityRows
from bot.store.tx import Row, Scope

log = logging.getLogger("bot.store.preferences")

__all__ = ["PreferenceStore", "Preferences", "VerificationStore", "check_account", "check_order"]

MAX_ATTEMPTS = 5  # wrong codes before a pending address must be requested again


class PreferenceStore:
    """Reads and writes account preferences."""

    def __init__(self, store: Scope) -> None:
        self._store = store

    async def get(self, account_id: str) -> Preferences:
        """The account's preferences (the defaults when it never set any)."""
        async with self._store.read() as tx:
            row = await tx.fetch_one(self._store.sql.get_preferences, (account_id,))
        if row is None:
            return Preferences(account_id=account_id)
        order = row["channel_order"]
        return Preferences(
            account_id=account_id,
            channel_order=tuple(order.split(",")) if order else None,
            email_enabled=bool(row["email_enabled"]),
            time_zone=row["time_zone"],
            updated_by=row["updated_by"],
            updated_at=parse_ts(row["updated_at"]),
        )

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
        """Change what is given (``order=()`` resets to the deployment's order, ``time_zone=""``
        to the zone of each card's locale)."""
        current = await self.get(account_id)
        new_order = current.channel_order if order is None else (order or None)
        email = current.email_enabled if email_enabled is None else email_enabled
        zone = current.time_zone if time_zone is None else (time_zone or None)
        joined = ",".join(new_order) if new_order else None
        async with self._store.write() as tx:
            await tx.execute(
                self._store.sql.upsert_preferences,
                (account_id, joined, int(email), zone, by, ts(at)),
            )
        log.info("preferences set", extra=kv(account_id=account_id, by=by))
        return Preferences(
            account_id=account_id,
            channel_order=new_order,
            email_enabled=email,
            time_zone=zone,
            updated_by=by,
            updated_at=at,
        )


class VerificationStore:
    """Pending email addresses, one per account, with the hash of their code."""

    def __init__(self, store: Scope) -> None:
        self._store = store

    async def put(self, pending: PendingEmail, code_hash: str, at: datetime) -> None:
        """Replace the account's pending address (an earlier code stops working)."""
        async with self._store.write() as tx:
            await tx.execute(self._store.sql.sweep_email_verifications, (ts(at),))
            await tx.execute(
                self._store.sql.put_email_verification,
                (
                    pending.account_id,
                    pending.address,
                    code_hash,
                    pending.requested_by,
                    pending.method,
                    ts(at),
                    ts(pending.expires_at),
                ),
            )

    async def drop(self, account_id: str) -> None:
        """Forget the account's pending address."""
        async with self._store.write() as tx:
            await tx.execute(self._store.sql.drop_email_verification, (account_id,))

    async def pending(self, account_id: str, now: datetime) -> PendingEmail | None:
        """The account's unexpired pending address, if any."""
        async with self._store.read() as tx:
            row = await tx.fetch_one(
                self._store.sql.pending_email_verification,
                (account_id, ts(now), MAX_ATTEMPTS),
            )
        return _pending(row) if row is not None else None

    async def confirm(self, account_id: str, code_hash: str, now: datetime) -> PendingEmail | None:
        """Bind the pending address when ``code_hash`` matches (single use); None otherwise."""
        async with self._store.write() as tx:
            row = await tx.fetch_one(
                self._store.sql.pending_email_verification,
                (account_id, ts(now), MAX_ATTEMPTS),
            )
            if row is None:
                return None
            if not hmac.compare_digest(row["code_hash"], code_hash):
                # Counted, so a six-figure guess space cannot be walked through the API.
                await tx.execute(
                    self._store.sql.count_email_attempt,
                    (account_id,),
                )
                return None
            pending = _pending(row)
            await tx.execute(self._store.sql.drop_email_verification, (account_id,))
            await IdentityRows(tx).set_binding(
                account_id, "email", pending.address, pending.requested_by, "email-code", now
            )
        return pending


def _pending(row: Row) -> PendingEmail:
    return PendingEmail(
        account_id=row["account_id"],
        address=row["address"],
        requested_by=row["requested_by"],
        method=row["method"],
        expires_at=parse_ts(row["expires_at"]),
    )
