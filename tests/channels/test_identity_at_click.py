"""A click counts only while the clicker's chat identity is still bound to the approver.

The card on a phone outlives the binding that put it there: an admin removes or moves a binding,
and the old identity's click on the old card must be refused, answered, audited and forwarded
nowhere. Driven through the real SDKs against the sandbox platforms and the admin HTTP API.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.core.models import ClickAction
from sandbox.backend import SandboxBackend
from sandbox.dingtalk.platform import DingTalkPlatform
from sandbox.embedded import Embedded, start
from sandbox.lark.platform import LarkPlatform
from sandbox.platform import Seat
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings
from tests.gateway.admin import audit, call, token
from tests.gateway.helpers import eventually, states, trace

UNLINKED_EN = "This chat account is no longer linked to the approver."
UNLINKED_ZH = "此聊天账号已不再关联到该审批人。"


@pytest.fixture(params=["lark", "dingtalk"])
async def chat(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Embedded]:
    channel = str(request.param)
    embedded = await start(fast_settings(tmp_path / "data", sandbox_platforms=[channel]))
    try:
        platform = embedded.platform_of(channel)
        if isinstance(platform, LarkPlatform):
            await platform.app().wait_connected()
        elif isinstance(platform, DingTalkPlatform):
            await platform.sandboxes["dingtalk"].wait_connected()
        yield embedded
    finally:
        await embedded.stop()


def channel_of(embedded: Embedded) -> str:
    return "lark" if "lark" in embedded.gateway.channels else "dingtalk"


def backend_of(embedded: Embedded) -> SandboxBackend:
    assert embedded.backend is not None
    return embedded.backend


async def submit(embedded: Embedded, ticket_id: str, seat: Seat, locale: str = "en-US") -> str:
    ticket = sample_ticket(ticket_id, [approver(seat.account_id, seat.display_name)], locale=locale)
    status, receipt = await backend_of(embedded).submit(ticket)
    assert status == 202, receipt

    async def sent() -> bool:
        return await states(backend_of(embedded), ticket_id) == ["sent"]

    await eventually(sent)
    return str(receipt["deliveries"][0]["delivery_id"])


async def assert_refused_and_audited(
    embedded: Embedded, admin: str, ticket_id: str, seat: Seat
) -> None:
    assert (await trace(backend_of(embedded), ticket_id))["status"] == "pending"
    assert backend_of(embedded).attempts == []  # nothing was forwarded
    refused = await audit(embedded.gateway, admin, "click.refused")
    assert [(r["target"], r["detail"], r["who"]) for r in refused] == [
        (ticket_id, "identity_unlinked", f"{seat.channel}:{seat.address}")
    ]


async def test_a_removed_binding_takes_the_old_cards_authority_with_it(chat: Embedded) -> None:
    gateway, channel = chat.gateway, channel_of(chat)
    admin = await token(gateway, "admin")
    ann = await chat.seat(channel, "a1", "Ann")
    delivery = await submit(chat, "ID-GONE", ann)

    status, _ = await call(gateway, "DELETE", f"/v1/bindings/a1?channel={channel}", admin)
    assert status == 204
    outcome = await chat.platform_of(channel).click(ann, delivery, ClickAction.APPROVE, "ok")

    assert outcome.toast == UNLINKED_EN
    assert chat.platform_of(channel).card_state(ann, delivery) == "pending"
    await assert_refused_and_audited(chat, admin, "ID-GONE", ann)


async def test_a_moved_binding_refuses_the_old_identity(chat: Embedded) -> None:
    gateway, channel = chat.gateway, channel_of(chat)
    admin = await token(gateway, "admin")
    platform = chat.platform_of(channel)
    ann = await chat.seat(channel, "a1", "Ann")
    delivery = await submit(chat, "ID-MOVED", ann, locale="zh-CN")
    # The account now answers on another identity of the same platform (a new phone, say).
    other = platform.seat(channel, "a1-new", "Ann (new)")
    body = {"channel": channel, "address": other.address}
    assert (await call(gateway, "PUT", "/v1/bindings/a1", admin, body))[0] == 200

    outcome = await platform.click(ann, delivery, ClickAction.REJECT, "no")

    assert outcome.toast == UNLINKED_ZH
    await assert_refused_and_audited(chat, admin, "ID-MOVED", ann)
