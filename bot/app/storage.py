"""The storage engine and the platforms' rate budgets, chosen once, before any channel is built.

Every channel paces its platform calls on a ``RateLimits`` it takes from its factory
(``bot.channels.registry``), so the budgets must exist before the channels do: ``bot.app.launch``
and the sandbox's embedded start build a :class:`Storage` first, build every channel with its
``limits`` and hand the same :class:`Storage` to the ``Gateway``, which opens the engine. One
object for all of them: two channels of one gateway, and every replica on the same database,
draw on one budget per key.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.channels.common.ratelimit import LocalLimits
from bot.core.limits import RateLimits
from bot.settings.config import Settings
from bot.store.engine import EngineStore, make_store
from bot.store.limits import StoredRateLimits
from bot.store.postgres import PostgresStore
from bot.store.postgres.limits import PostgresRateLimits


@dataclass(frozen=True)
class Storage:
    """The storage engine (built, not open yet: the gateway opens and closes it) and the rate
    budgets every channel of the gateway takes."""

    store: EngineStore
    limits: RateLimits


def make_storage(settings: Settings) -> Storage:
    """The engine the settings select and the budgets ``RATE_LIMITS`` asks for: in that
    engine's ``rate_limits`` table (``database``, the default: shared by every replica on it),
    or in this process (``process``)."""
    store = make_store(settings)
    return Storage(store, _limits(settings, store))


def _limits(settings: Settings, store: EngineStore) -> RateLimits:
    if settings.rate_limits == "process":
        return LocalLimits()
    if isinstance(store, PostgresStore):  # one round trip a reservation, not a transaction
        return PostgresRateLimits(store)
    return StoredRateLimits(store)
