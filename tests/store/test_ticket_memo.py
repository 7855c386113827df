"""A stored ticket is validated once by its text, and the remembered texts stay bounded."""

from __future__ import annotations

import pydantic
import pytest

from bot.core.intake import ApprovalRequest
from bot.store.repos.requests import _Tickets
from sandbox.tickets import approver, sample_ticket


def _text(ticket_id: str) -> str:
    ticket = ApprovalRequest.model_validate(sample_ticket(ticket_id, [approver("a1", "Ann")]))
    return ticket.model_dump_json()


def test_a_text_read_again_is_the_value_parsed_the_first_time() -> None:
    tickets = _Tickets(chars=1_000_000)
    text = _text("T-1")
    first = tickets.parsed(text)
    assert first == ApprovalRequest.model_validate_json(text)
    assert tickets.parsed(text) is first


def test_a_text_is_still_validated_when_it_is_not_remembered() -> None:
    with pytest.raises(pydantic.ValidationError):
        _Tickets(chars=1_000_000).parsed('{"ticket_id": ""}')


def test_the_oldest_texts_are_forgotten_past_the_bound() -> None:
    one, two = _text("T-1"), _text("T-2")
    tickets = _Tickets(chars=len(one) + len(two) - 1)  # room for one of them only
    kept = tickets.parsed(one)
    tickets.parsed(two)
    assert tickets.parsed(one) is not kept  # forgotten, so parsed again
