"""The unit of work (implements ``bot.core.ports.UnitOfWork``): one engine transaction and the
repositories bound to it, opened by the caller (``store.unit()``) and passed to what acts
inside it. Callbacks registered with :meth:`EngineUnit.on_commit` (the outbox worker's wake-ups)
run once the transaction is durable, and never when it rolls back."""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from functools import cached_property
from typing import TYPE_CHECKING

from bot.errors import StoreError
from bot.store.tx import Bound, EngineTx

if TYPE_CHECKING:
    from bot.store.bindings import BindingStore
    from bot.store.preferences import PreferenceStore, VerificationStore
    from bot.store.repos.answers import AnswerRows
    from bot.store.repos.credentials import CredentialRows
    from bot.store.repos.delegations import DelegationRows
    from bot.store.repos.deliveries import DeliveryRows
    from bot.store.repos.identities import IdentityRows
    from bot.store.repos.ledger import LedgerRows
    from bot.store.repos.outbox import OutboxRows
    from bot.store.repos.requests import RequestRows
    from bot.store.repos.steps import StepRows
    from bot.store.repos.votes import VoteRows

log = logging.getLogger("bot.store")


class EngineUnit:
    """One transaction's repositories, each made on first use (most units touch two or three).

    Each repository's module is imported on first use too: a command that only lists tokens
    then never loads the request, routing and timing models the other repositories need.
    """

    def __init__(self, tx: EngineTx) -> None:
        self._tx = tx
        self._after: list[Callable[[], None]] = []

    @cached_property
    def answers(self) -> AnswerRows:
        """Kept answers of signed requests."""
        from bot.store.repos.answers import AnswerRows

        return AnswerRows(self._tx)

    @cached_property
    def requests(self) -> RequestRows:
        """Requests and decisions."""
        from bot.store.repos.requests import RequestRows

        return RequestRows(self._tx)

    @cached_property
    def deliveries(self) -> DeliveryRows:
        """Deliveries and their history."""
        from bot.store.repos.deliveries import DeliveryRows

        return DeliveryRows(self._tx)

    @cached_property
    def outbox(self) -> OutboxRows:
        """Outbox jobs."""
        from bot.store.repos.outbox import OutboxRows

        return OutboxRows(self._tx)

    @cached_property
    def votes(self) -> VoteRows:
        """The approvers' votes."""
        from bot.store.repos.votes import VoteRows

        return VoteRows(self._tx)

    @cached_property
    def delegations(self) -> DelegationRows:
        """Delegations while away."""
        from bot.store.repos.delegations import DelegationRows

        return DelegationRows(self._tx)

    @cached_property
    def identities(self) -> IdentityRows:
        """Bindings and binding codes as routing and ``bind CODE`` use them."""
        from bot.store.repos.identities import IdentityRows

        return IdentityRows(self._tx)

    @cached_property
    def steps(self) -> StepRows:
        """Marks of the reminder and escalation steps run."""
        from bot.store.repos.steps import StepRows

        return StepRows(self._tx)

    @cached_property
    def ledger(self) -> LedgerRows:
        """Metering and audit."""
        from bot.store.repos.ledger import LedgerRows

        return LedgerRows(self._tx)

    @cached_property
    def credentials(self) -> CredentialRows:
        """Sealed values and consents."""
        from bot.store.repos.credentials import CredentialRows

        return CredentialRows(self._tx)

    @cached_property
    def bindings(self) -> BindingStore:
        """The operator's bindings repository, acting in this unit."""
        from bot.store.bindings import BindingStore

        return BindingStore(Bound(self._tx))

    @cached_property
    def preferences(self) -> PreferenceStore:
        """Account preferences, acting in this unit."""
        from bot.store.preferences import PreferenceStore

        return PreferenceStore(Bound(self._tx))

    @cached_property
    def emails(self) -> VerificationStore:
        """Pending email addresses, acting in this unit."""
        from bot.store.preferences import VerificationStore

        return VerificationStore(Bound(self._tx))

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` once this unit has committed."""
        self._after.append(callback)

    def committed(self) -> None:
        """The unit is durable: run its callbacks (one failing does not stop the others)."""
        for callback in self._after:
            try:
                callback()
            except Exception:
                log.exception("a callback after commit failed")


class Units:
    """``unit()`` and ``snapshot()`` over an engine's ``write()`` and ``read()``, and the rule
    that a task holds at most one transaction open: a second one would be another transaction
    (on SQLite it would wait for the first's turn, for ever), so it is refused at once."""

    def __init__(self) -> None:
        super().__init__()
        self._holding: weakref.WeakSet[asyncio.Task[object]] = weakref.WeakSet()

    def write(self, *, urgent: bool = False) -> AbstractAsyncContextManager[EngineTx]:
        raise NotImplementedError

    def read(self, *, urgent: bool = False) -> AbstractAsyncContextManager[EngineTx]:
        raise NotImplementedError

    @asynccontextmanager
    async def unit(self, *, urgent: bool = False) -> AsyncIterator[EngineUnit]:
        """A read-write unit of work; its on-commit callbacks run after its commit."""
        async with self.write(urgent=urgent) as tx:
            uow = EngineUnit(tx)
            yield uow
        uow.committed()

    @asynccontextmanager
    async def snapshot(self, *, urgent: bool = False) -> AsyncIterator[EngineUnit]:
        """A read-only unit of work: one consistent view."""
        async with self.read(urgent=urgent) as tx:
            yield EngineUnit(tx)

    @contextmanager
    def _one_per_task(self) -> Iterator[None]:
        task = asyncio.current_task()
        if task is None:
            yield
            return
        if task in self._holding:
            raise StoreError(
                "a transaction opened while this task holds one open: pass its unit of work down"
            )
        self._holding.add(task)
        try:
            yield
        finally:
            self._holding.discard(task)
