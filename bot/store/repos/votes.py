"""The approvers' votes (implements ``bot.core.ports.VoteRepo``)."""

from __future__ import annotations

from bot.core.models import Outcome, Vote
from bot.store.codec import parse_ts, ts
from bot.store.repos.bound import Rows
from bot.store.tx import Row


class VoteRows(Rows):
    """The ``votes`` table: one row per request, stage and account."""

    async def add(self, request_id: str, vote: Vote) -> bool:
        """Store the vote; False when the account already voted in that stage."""
        return await self._tx.execute(self.sql.add_vote, _row(request_id, vote)) == 1

    async def add_held(self, request_id: str, vote: Vote) -> None:
        """Store a vote admitted under the request's exclusive lock: a deferred write that
        must store one row (``EngineTx.defer``)."""
        await self._tx.defer(self.sql.add_vote, _row(request_id, vote), changes=1)

    async def of_request(self, request_id: str) -> list[Vote]:
        """The request's votes, oldest first."""
        rows = await self._tx.fetch_all(self.sql.votes_of_request, (request_id,))
        return [vote(row) for row in rows]


def _row(request_id: str, vote: Vote) -> tuple[object, ...]:
    # In add_vote's column order.
    return (
        request_id,
        vote.stage,
        vote.account_id,
        vote.outcome.value,
        vote.comment,
        vote.display_name,
        vote.channel,
        ts(vote.at),
    )


def vote(row: Row) -> Vote:
    """A vote row (or the same keys in a JSON object)."""
    return Vote(
        stage=row["stage"],
        account_id=row["account_id"],
        outcome=Outcome(row["outcome"]),
        at=parse_ts(row["at"]),
        comment=row["comment"],
        display_name=row["display_name"],
        channel=row["channel"],
    )
