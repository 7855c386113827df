"""The intake contract of approvals over time: reminders, escalation, on_expiry.

All optional (a ticket without them is accepted as before); anything wrong is a 422 naming the
field, and nothing is written.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.settings.config import Settings
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings
from tests.gateway.helpers import parts, row_counts

Ticket = dict[str, Any]
BOSS = {"account_id": "boss", "account_type": "main", "display_name": "Boss", "region": "cn"}
FULL = {
    "reminders": {"after": "PT30M", "every": "PT1H", "max": 3, "urgent": "app"},
    "escalation": [
        {"after": "PT2H", "notify": "email"},
        {"after": "PT3H", "urgent": "app"},
        {"after": "PT3H30M", "add_approvers": [BOSS]},
    ],
    "on_expiry": "reject",
}
SUPPORTED = FULL  # everything the contract names is done


def _ticket(**timing: Any) -> Ticket:
    ticket = {**sample_ticket("T-TIME", [approver("a1", "Ann")]), **timing}  # expires in 4 h
    ticket["submitter"]["account_id"] = "sub"
    ticket["policy"] = {"rule": "any"}  # a policy: no self-approval
    return ticket


async def test_a_request_with_the_whole_supported_contract_is_accepted(stack: object) -> None:
    _, backend, _ = parts(stack)
    status, body = await backend.submit(_ticket(**SUPPORTED))
    assert status == 202, body


async def test_a_request_may_turn_the_deployments_reminders_off(stack: object) -> None:
    _, backend, _ = parts(stack)
    assert (await backend.submit(_ticket(reminders="off")))[0] == 202


def _set(path: str, value: Any) -> Callable[[Ticket], None]:
    def mutate(ticket: Ticket) -> None:
        target: Any = ticket
        keys: list[Any] = [int(k) if k.isdigit() else k for k in path.split(".")]
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (_set("reminders.after", "30 minutes"), "reminders.after"),
        (_set("reminders.after", 1800), "reminders.after"),
        (_set("reminders.after", "P1M"), "reminders.after"),  # a month has no one length
        (_set("reminders.every", "PT0S"), "reminders.every"),
        (_set("reminders.max", 11), "reminders.max"),
        (_set("reminders.urgent", "pager"), "reminders.urgent"),
        (_set("reminders", {"after": "PT1H", "max": 2}), "reminders"),  # two need an every
        (_set("reminders.after", "PT5H"), "reminders.after"),  # after expires_at (4 h)
        (_set("reminders.max", 5), "reminders.max"),  # the 5th at 4h30m
        (_set("escalation.2.after", "PT4H"), "escalation.2.after"),  # at expires_at
        (_set("escalation.1", {"after": "PT3H"}), "escalation.1"),  # no action
        (
            _set("escalation.1", {"after": "PT3H", "urgent": "sms", "notify": "email"}),
            "escalation.1",
        ),
        (_set("escalation.2.add_approvers", [approver("a1", "Ann")]), "escalation"),  # already one
        (_set("escalation.2.add_approvers", [approver("sub", "Sam")]), "escalation"),  # submitter
        (_set("escalation.0.after", "PT3H45M"), "escalation"),  # out of order
        (_set("escalation", [{"after": "PT1M", "notify": "email"}] * 11), "escalation"),
        (_set("on_expiry", "ignore"), "on_expiry"),
        (_set("on_expiry", "approve"), "on_expiry"),  # off in this deployment
    ],
)
async def test_invalid_timing_is_a_422_naming_the_field(
    stack: object, mutate: Callable[[Ticket], None], field: str
) -> None:
    gateway, backend, _ = parts(stack)
    ticket = _ticket(**copy.deepcopy(FULL))
    mutate(ticket)
    status, body = await backend.submit(ticket)
    assert status == 422, body
    assert list(body["error"]["fields"]) == [field], body  # that field alone
    assert row_counts(gateway.gateway.settings.db_path)["requests"] == 0


async def test_auto_approve_refused_names_the_setting(stack: object) -> None:
    _, backend, _ = parts(stack)
    _, body = await backend.submit(_ticket(on_expiry="approve"))
    assert "APPROVAL_GATEWAY_REMINDERS__ALLOW_AUTO_APPROVE" in body["error"]["fields"]["on_expiry"]


class TestWhereTheDeploymentAllowsAutoApproval:
    @pytest.fixture
    def settings(self, tmp_path: Path) -> Settings:
        return fast_settings(tmp_path / "data", reminders={"allow_auto_approve": True})

    async def test_on_expiry_approve_is_accepted(self, stack: object) -> None:
        _, backend, _ = parts(stack)
        status, body = await backend.submit(_ticket(on_expiry="approve"))
        assert status == 202, body


async def test_sms_and_phone_urgency_are_accepted_and_decided_per_channel_at_send(
    stack: object,
) -> None:
    _, backend, _ = parts(stack)
    ticket = _ticket(**copy.deepcopy(SUPPORTED))
    _set("reminders.urgent", "sms")(ticket)
    _set("escalation.1.urgent", "phone")(ticket)
    status, body = await backend.submit(ticket)
    assert status == 202, body
