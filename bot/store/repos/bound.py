"""What every repository shares: the transaction it is bound to (and the engine's queries
through it). Apart from the row decoding of ``rows``, so that a repository that decodes no
request (the ledger the token commands audit to) loads none of the request models."""

from __future__ import annotations

from bot.store.queries import Queries
from bot.store.tx import EngineTx


class Rows:
    """A repository bound to one engine transaction."""

    def __init__(self, tx: EngineTx) -> None:
        self._tx = tx

    @property
    def sql(self) -> Queries:
        """The engine's named queries."""
        return self._tx.sql
