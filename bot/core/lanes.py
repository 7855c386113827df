"""The outbox's lanes: which job kinds (and, for card updates, which channels) are claimed
together, each with its own concurrency. The worker (``bot.outbox.worker``) runs one claim loop
per lane; ``bot.core.jobs.JobRunner`` runs what they claim.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.core.redraw import UPDATE_CARD
from bot.core.service import FORWARD_DECISION, SEND_CARD, TELL_IDENTITY
from bot.core.step_events import FORWARD_STEP
from bot.core.timing.steps import TIMING_STEP
from bot.core.vote_events import FORWARD_VOTE


@dataclass(frozen=True)
class Lane:
    """A share of the outbox: the job kinds claimed together, with their own concurrency.

    Lanes keep one kind of work from starving another: a hanging backend fills only the
    decision lane, and a card backlog behind a platform's rate limit only the card lane, so a
    new ticket's cards and a click's decision never wait behind each other. Every lane names
    its kinds: a claim that only excluded kinds would walk past every pending job of theirs (the
    outbox's (kind, next_attempt_at) index serves ``kind IN``, not ``NOT IN``), and behind
    30,000 queued cards each such claim took 4 ms of the write lock instead of 10 µs.
    """

    name: str
    concurrency: int
    kinds: tuple[str, ...]
    urgent: bool = False  # its claims are urgent store work (bot.core.ports.Store)
    # Only the jobs of its kinds queued for these channels ('': for none); empty: any channel.
    channels: tuple[str, ...] = ()
    # While some of its jobs run, the lane claims again only once this many slots are free:
    # one claim (a write) and one read of their cards (``bot.core.card_loads``) for several
    # jobs, and the cards of one decision, queued together, claimed together.
    claim_at: int = 1

    def takes(self, kind: str) -> bool:
        """Whether jobs of ``kind`` are this lane's: a kind, or a kind and the channel its
        jobs were queued for, ``"<kind> <channel>"`` (``bot.core.ports.Wakeup``)."""
        kind, _, channel = kind.partition(" ")
        return kind in self.kinds and (not channel or not self.channels or channel in self.channels)


# Every kind the runner has a handler for (``JobRunner``); each is in exactly one lane. A kind
# this version does not know (written by a newer replica mid-upgrade) is left for one that does.
JOB_KINDS = (
    SEND_CARD,
    UPDATE_CARD,
    FORWARD_DECISION,
    FORWARD_VOTE,
    FORWARD_STEP,
    TELL_IDENTITY,
    TIMING_STEP,
)
FORWARDS = (FORWARD_DECISION, FORWARD_VOTE, FORWARD_STEP)


def lanes(
    *,
    forwards: int,
    updates: int,
    sends: int,
    timers: int = 2,
    channels: Sequence[str] = (),
    paced: Sequence[str] = (),
    platform_updates: int = 32,
) -> tuple[Lane, ...]:
    """The lanes: decision (and vote and step event) forwards, card updates (and every other
    kind), card sends, reminder and escalation steps, and one lane of card updates for each
    channel of ``paced`` (``platform_updates`` in flight each).

    The forwards lane is urgent: a decision's way to the backend is the end of a click, so its
    claims go before the sends' and updates' store work. Steps have a lane of their own, so a
    flood of due reminders waits behind itself, never in front of a card or a decision.

    ``paced``: the platforms that pace their calls (Lark, DingTalk: each its own app's budgets).
    Their redraws, claimed in one queue by due time, waited behind each other: a DingTalk
    redraw behind every Lark redraw queued before it, though DingTalk's budget had room. Each
    takes its own lane; the updates lane keeps the rest of ``channels`` (every channel this
    version knows) and the jobs queued for none. A card job for a channel this version does not
    know is left for a replica that does, as a kind it does not know is. Without ``paced``, the
    updates lane takes its kinds for any channel."""
    own = (*FORWARDS, SEND_CARD, TIMING_STEP)
    others = tuple(k for k in JOB_KINDS if k not in own)
    rest = ("", *(name for name in channels if name not in paced)) if paced else ()
    return (
        Lane("forwards", forwards, kinds=FORWARDS, urgent=True),
        Lane("updates", updates, kinds=others, claim_at=_claim_at(updates), channels=rest),
        *(
            Lane(
                f"updates-{name}",
                platform_updates,
                (UPDATE_CARD,),
                claim_at=_claim_at(platform_updates),
                channels=(name,),
            )
            for name in paced
        ),
        Lane("sends", sends, kinds=(SEND_CARD,)),
        Lane("timers", timers, kinds=(TIMING_STEP,)),
    )


def _claim_at(concurrency: int) -> int:
    return max(1, concurrency // 4)
