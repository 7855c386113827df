"""Cards loaded together: the outbox jobs one claim starts ask for their cards in the same moment,
and one read snapshot answers them all, reading each request (with its deliveries, decision and
votes) once however many of its cards are among them.

A decision leaves every other approver's card to redraw, and its update jobs are queued, and
claimed, together: loading the request once per card read (and parsed) the same rows that many
times over, the most expensive part of a redraw on the gateway's loop.

A pending card on a channel with a person picker also carries whom the picker offers
(:func:`bot.core.roster.candidates`): the accounts bound on that channel, read once for the
whole batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.core import roster
from bot.core.batched_reads import BatchedReads
from bot.core.models import Delivery, RequestStatus, StoredRequest
from bot.core.ports import OutgoingCard, Store, UnitOfWork


class CardLoads:
    """Coalesces the card loads that arrive while a read is running into the next one."""

    def __init__(self, store: Store, picks: Callable[[str], bool] = lambda _: False) -> None:
        self._store = store
        self._picks = picks  # whether a channel's cards offer a hand-over picker
        self._reads = BatchedReads(self._load, "outbox-card-loads")

    async def card(self, delivery_id: str) -> OutgoingCard | None:
        """The delivery with its request as stored now (None: either is gone)."""
        return await self._reads.read(delivery_id)

    async def _load(self, delivery_ids: list[str]) -> list[OutgoingCard | None]:
        requests: dict[str, StoredRequest | None] = {}
        known: dict[str, Delivery] = {}  # the deliveries of the requests read so far
        cards: list[OutgoingCard | None] = []
        async with self._store.snapshot() as uow:
            for delivery_id in delivery_ids:
                if delivery_id not in known:
                    # The request holds the delivery as ``get`` reads it: only its request's id
                    # is read apart (a request read before in this snapshot holds all of its own).
                    request_id = await uow.deliveries.request_of(delivery_id)
                    if request_id is not None and request_id not in requests:
                        request = await _request(uow, request_id)
                        requests[request_id] = request
                        known.update((d.id, d) for d in (request.deliveries if request else ()))
                delivery = known.get(delivery_id)
                request = requests[delivery.request_id] if delivery else None
                cards.append(OutgoingCard(delivery=delivery, request=request) if request else None)
            return await self._with_candidates(uow, cards)

    async def _with_candidates(
        self, uow: UnitOfWork, cards: list[OutgoingCard | None]
    ) -> list[OutgoingCard | None]:
        # One read of the bindings for every pending card on a picker's channel in the batch.
        picking = [c for c in cards if c is not None and self._offers(c)]
        if not picking:
            return cards
        channels = sorted({c.delivery.channel for c in picking})
        most = max(len(roster.not_takers(c.request)) for c in picking)
        bound = await uow.identities.first_bound(channels, roster.CANDIDATES + most)
        return [
            c.model_copy(update={"hand_over_to": _offered(c, bound[c.delivery.channel])})
            if c is not None and self._offers(c)
            else c
            for c in cards
        ]

    def _offers(self, card: OutgoingCard) -> bool:
        return card.request.status is RequestStatus.PENDING and self._picks(card.delivery.channel)


def _offered(card: OutgoingCard, bound: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    # Not the holder themself (an approver is among the not_takers anyway).
    others = [(a, address) for a, address in bound if a != card.delivery.account_id]
    return roster.candidates(card.request, others)


async def _request(uow: UnitOfWork, request_id: str) -> StoredRequest | None:
    request = await uow.requests.get(request_id)
    votes = await uow.votes.of_request(request.id) if request else []
    return request.with_votes(votes) if request else None
