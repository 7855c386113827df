"""The replay memory of HTTP callbacks (Lark, DingTalk), kept in the store.

A callback's key (event id, envelope signature, message id) is inserted once; a second insert
of the same key is a replay. Rows expire when the callback's timestamp leaves the accepted
window, so the memory lasts exactly as long as a replay could pass the freshness check, survives
restarts, and is shared by every gateway on the same database. Expired rows are swept a few at a
time on each insert, through the expiry index.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.core.ports import Clock
from bot.errors import VerificationError
from bot.store.codec import ts
from bot.store.engine import EngineStore

SWEEP_BATCH = 100  # rows deleted per insert at most: the sweep stays cheap under any backlog


class StoredCallbackGuard:
    """``CallbackGuard`` over the ``callback_replays`` table, with one window for both jobs."""

    def __init__(self, store: EngineStore, clock: Clock, window_seconds: float) -> None:
        self._store = store
        self._clock = clock
        self._window = timedelta(seconds=window_seconds)

    def fresh(self, timestamp: float) -> None:
        """VerificationError unless ``timestamp`` is within the window of now (either side)."""
        try:
            at = datetime.fromtimestamp(timestamp, UTC)
        except (OverflowError, OSError, ValueError):
            raise VerificationError("callback timestamp is not a time") from None
        if abs(self._clock.now() - at) > self._window:
            raise VerificationError("callback timestamp is outside the replay window")

    async def take(self, key: str, timestamp: float | None = None) -> bool:
        """Insert ``key`` until its timestamp (now when unknown, i.e. at most now + window)
        leaves the window; False when it is already there."""
        now = self._clock.now()
        latest = now + self._window if timestamp is None else datetime.fromtimestamp(timestamp, UTC)
        expires = max(latest, now) + self._window
        async with self._store.write() as tx:
            await tx.execute(
                self._store.sql.sweep_callback_replays,
                (ts(now), SWEEP_BATCH),
            )
            inserted = await tx.execute(
                self._store.sql.take_callback_replay,
                (key, ts(expires), ts(now)),
            )
        return inserted == 1

    async def release(self, key: str) -> None:
        """Forget ``key``."""
        async with self._store.write() as tx:
            await tx.execute(self._store.sql.release_callback_replay, (key,))
