"""Every card shows the outcome: the one owner of the card redraws a request's end implies.

A request closes (decided, withdrawn, expired) or its decision cannot reach the backend; a card
may be sent while the decision commits; a clicker's card may be redrawn by the click's own answer
or not. Each of these asks the same question, "which cards still show an old state, and when is
each redrawn?", and this module answers it, in the caller's transaction, by queueing
``update_card`` outbox jobs, each naming its card's channel: a platform's redraws are claimed by
a lane of their own (``bot.core.lanes``), paced by that platform's limits alone and never
queued behind another platform's. The channels only report what became of a click's answer
(:meth:`bot.core.ports.InboundSink.answered`); the outbox worker only carries the jobs out.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from bot.core.models import Delivery, DeliveryState, RequestStatus, StoredRequest
from bot.core.ports import OutgoingCard, UnitOfWork

UPDATE_CARD = "update_card"
# The clicker's card is redrawn by the click's answer only if the platform takes that answer in
# time; the decision commits with an update for it that waits this long for the channel to say
# so (a crash before that must not leave the card pending), and is skipped if the card was
# redrawn meanwhile.
ANSWER_GRACE = timedelta(seconds=30)
AFTER_ANSWER = json.dumps({"after_answer": True})
REDRAWN_IN_ANSWER = "redrawn in the click answer"
SHOWN = (DeliveryState.SENT, DeliveryState.UPDATED)  # a card the approver holds


async def after_close(
    uow: UnitOfWork, request: StoredRequest, at: datetime, *, answered: str | None = None
) -> None:
    """Queue a redraw of every card the approvers hold; the clicker's waits for the answer.

    ``answered``: the clicked delivery, whose card the click's answer may already redraw
    (:func:`after_answer` says whether it did); its update is the backstop.
    """
    for delivery in request.deliveries:
        if delivery.state not in SHOWN:
            continue
        if delivery.id == answered:
            await uow.outbox.enqueue(
                UPDATE_CARD, delivery.id, at + ANSWER_GRACE, AFTER_ANSWER, channel=delivery.channel
            )
        else:
            await uow.outbox.enqueue(UPDATE_CARD, delivery.id, at, channel=delivery.channel)


async def after_vote(
    uow: UnitOfWork, request: StoredRequest, at: datetime, *, answered: str
) -> None:
    """A vote that leaves the request pending: every card the approvers hold shows the new
    tally (and an earlier stage's "passed to"); the voter's own waits for the click's answer."""
    since = json.dumps({"after_answer": True, "since": at.isoformat()})
    for delivery in request.deliveries:
        if delivery.state not in SHOWN:
            continue
        if delivery.id == answered:
            await uow.outbox.enqueue(
                UPDATE_CARD, delivery.id, at + ANSWER_GRACE, since, channel=delivery.channel
            )
        else:
            # Votes that come together redraw each card once: a redraw still waiting will show
            # them all (and Lark takes 5 updates a second per message).
            await uow.outbox.enqueue_redraw(UPDATE_CARD, delivery.id, at, channel=delivery.channel)


async def after_answer(
    uow: UnitOfWork, delivery_id: str, at: datetime, *, redrawn: bool, how: str = ""
) -> bool:
    """The clicker's card after the click's answer: recorded as redrawn, or redrawn now.

    Returns whether an update was queued (the caller wakes the worker).
    """
    current = await uow.deliveries.get(delivery_id)
    if current is None or current.state not in SHOWN:
        return False
    if redrawn:
        await uow.deliveries.set_state(
            delivery_id, DeliveryState.UPDATED, at, how or REDRAWN_IN_ANSWER
        )
        return False
    await uow.outbox.enqueue(UPDATE_CARD, delivery_id, at, channel=current.channel)
    return True


async def after_send(uow: UnitOfWork, delivery: Delivery, at: datetime) -> None:
    """A card that went out while its request closed must show the outcome too."""
    # The status alone: loading every delivery of the request here held the write lock for it.
    status = await uow.requests.status(delivery.request_id)
    if status is not None and status is not RequestStatus.PENDING:
        await uow.outbox.enqueue(UPDATE_CARD, delivery.id, at, channel=delivery.channel)


def wakes(request: StoredRequest | None) -> tuple[str, ...]:
    """What a change that redraws ``request``'s cards wakes (``bot.core.ports.Wakeup``): the
    lane of each channel its cards are on, not every lane of card updates."""
    if request is None:
        return (UPDATE_CARD,)
    channels = sorted({d.channel for d in request.deliveries if d.state in SHOWN})
    return tuple(wake(channel) for channel in channels) or (UPDATE_CARD,)


def wake(channel: str) -> str:
    """What a redraw queued for a card on ``channel`` wakes."""
    return f"{UPDATE_CARD} {channel}"


def already_shown(payload: dict[str, object], card: OutgoingCard) -> bool:
    """Whether a backstop update is moot: the card was redrawn since the request closed (or
    since the vote it was queued for)."""
    since = payload.get("since")
    closed = datetime.fromisoformat(since) if isinstance(since, str) else card.request.closed_at
    delivery = card.delivery
    return (
        bool(payload.get("after_answer"))
        and closed is not None
        and delivery.state is DeliveryState.UPDATED
        and delivery.updated_at >= closed
    )
