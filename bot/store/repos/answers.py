"""The kept answers of signed requests (implements ``bot.core.ports.AnswerRepo``)."""

from __future__ import annotations

from datetime import datetime

from bot.core.ports import SignedAnswer
from bot.store.codec import ts
from bot.store.repos.bound import Rows


class AnswerRows(Rows):
    """The ``signed_answers`` table: claimed, kept, recalled, forgotten."""

    async def recall(self, request_id: str) -> SignedAnswer | None:
        """The answer kept for ``request_id``, if any."""
        row = await self._tx.fetch_one(self.sql.recall_answer, (request_id,))
        return SignedAnswer(**dict(row)) if row else None

    async def claim(
        self, request_id: str, request_hash: str, at: datetime, expires_at: datetime
    ) -> bool:
        """Take ``request_id``; False if it is already taken."""
        claimed = await self._tx.execute(
            self.sql.claim_answer, (request_id, request_hash, ts(at), ts(expires_at))
        )
        return claimed == 1

    async def keep(
        self, request_id: str, answer: SignedAnswer, at: datetime, expires_at: datetime
    ) -> None:
        """Keep the answer until ``expires_at`` (a deferred write: see ``EngineTx.defer``)."""
        await self._tx.defer(
            self.sql.keep_answer,
            (
                request_id,
                answer.request_hash,
                answer.status,
                answer.content_type,
                answer.key_id,
                answer.body,
                ts(at),
                ts(expires_at),
            ),
        )

    async def forget(self, now: datetime, limit: int) -> int:
        """Drop up to ``limit`` expired answers."""
        return await self._tx.execute(self.sql.forget_answers, (ts(now), limit))
