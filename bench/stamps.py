"""Time stamps the host records as the sandbox sees work arrive (cards, decisions).

The sandbox Lark and the sandbox backend run inside the gateway process; recording the moment a
card is created or a decision arrives there, with the wall clock the load driver also uses,
measures the gateway's latency without the driver's polling in it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox.backend import ReceivedDecision
from sandbox.lark.platform import button_values
from sandbox.lark.sandbox import SandboxMessage, SandboxUser


@dataclass(frozen=True)
class CardStamp:
    """One card created on a sandbox platform: for which delivery, to whom, when."""

    delivery_id: str
    address: str
    at: float

    def row(self) -> list[Any]:
        """JSON form."""
        return [self.delivery_id, self.address, self.at]


@dataclass
class Journal:
    """Append-only records, readable from the event loop while the sandbox thread appends."""

    cards: list[CardStamp] = field(default_factory=list)
    decisions: list[list[Any]] = field(default_factory=list)  # [ticket_id, webhook_id, at]
    duplicates: int = 0  # card creations the platform answered from its uuid memory
    redraws: list[list[Any]] = field(default_factory=list)  # [channel, delivery_id, at]
    messages: dict[str, str] = field(default_factory=dict)  # Lark message id -> delivery id
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def card(self, stamp: CardStamp) -> None:
        """Record a created card."""
        with self._lock:
            self.cards.append(stamp)


def delivery_of(content: dict[str, Any]) -> str:
    """The delivery id a card's buttons name ("" for a card without buttons)."""
    for value in button_values(content):
        ref = value.get("ref")
        if isinstance(ref, str) and ref:
            return ref
    return ""


CreateMessage = Callable[
    [SandboxUser, str, dict[str, Any], str | None], tuple[SandboxMessage, bool]
]


def stamping_create(journal: Journal, create: CreateMessage) -> CreateMessage:
    """Wrap the sandbox Lark store's ``create_message`` to stamp every new card."""

    def create_message(
        user: SandboxUser, msg_type: str, content: dict[str, Any], uuid: str | None
    ) -> tuple[SandboxMessage, bool]:
        message, new = create(user, msg_type, content, uuid)
        if msg_type == "interactive":
            if new:
                stamp = CardStamp(delivery_of(content), user.open_id, message.versions[0].at)
                journal.card(stamp)
                journal.messages[message.message_id] = stamp.delivery_id
            else:
                journal.duplicates += 1
        return message, new

    return create_message


UpdateCard = Callable[[str, dict[str, Any], Any], None]


def stamping_patch(journal: Journal, update: UpdateCard) -> UpdateCard:
    """Wrap the sandbox Lark store's ``update_card`` to stamp every card replaced by a PATCH
    (the redraw of a card whose holder did not click it; click answers are not redraws here)."""

    def update_card(message_id: str, card: dict[str, Any], source: Any) -> None:
        update(message_id, card, source)
        if source == "patch":
            delivery = journal.messages.get(message_id, "")
            journal.redraws.append(["lark", delivery, time.time()])

    return update_card


UpdateInstance = Callable[[dict[str, Any]], list[str]]


def stamping_put(
    journal: Journal, update: UpdateInstance, delivery_of_track: Callable[[str], str | None]
) -> UpdateInstance:
    """Wrap the sandbox DingTalk card book's ``update`` (``PUT /v1.0/card/instances``) to stamp
    every card it redraws."""

    def put(body: dict[str, Any]) -> list[str]:
        holders = update(body)
        track = str(body.get("outTrackId", ""))
        journal.redraws.append(["dingtalk", delivery_of_track(track) or "", time.time()])
        return holders

    return put


class StampedDecisions(list[ReceivedDecision]):
    """The sandbox backend's decision list, stamping each decision as it is appended."""

    def __init__(self, journal: Journal) -> None:
        super().__init__()
        self._journal = journal

    def append(self, decision: ReceivedDecision) -> None:
        """Record the decision and when it arrived."""
        self._journal.decisions.append([decision.ticket_id, decision.webhook_id, time.time()])
        super().append(decision)
