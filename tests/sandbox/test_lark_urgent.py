"""Lark urgency in the sandbox, driven by the real lark_oapi SDK."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import lark_oapi as lark
import pytest
from lark_oapi.api.im.v1 import (
    CreateMessageRequest,
    CreateMessageRequestBody,
    UrgentAppMessageRequest,
    UrgentPhoneMessageRequest,
    UrgentReceivers,
    UrgentSmsMessageRequest,
)

from sandbox.lark.sandbox import LarkSandbox
from sandbox.lark.urgent import UNREAD_LIMIT

ALICE, BOB = "ou_alice", "ou_bob"
KINDS: dict[str, Any] = {
    "app": (UrgentAppMessageRequest, "urgent_app"),
    "sms": (UrgentSmsMessageRequest, "urgent_sms"),
    "phone": (UrgentPhoneMessageRequest, "urgent_phone"),
}


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def sandbox() -> Iterator[LarkSandbox]:
    sb = LarkSandbox(app_id=f"cli_{secrets.token_hex(6)}")
    sb.start()
    sb.add_user(ALICE, name="Alice", user_id="u_alice")
    sb.add_user(BOB, name="Bob")
    yield sb
    sb.stop()


@pytest.fixture
def client(sandbox: LarkSandbox) -> lark.Client:
    builder = lark.Client.builder().app_id(sandbox.app_id).app_secret(sandbox.app_secret)
    return builder.domain(sandbox.base_url).log_level(lark.LogLevel.ERROR).build()


def card_to(client: lark.Client, open_id: str) -> str:
    body = (
        CreateMessageRequestBody.builder()
        .receive_id(open_id)
        .msg_type("text")
        .content(json.dumps({"text": "please approve"}))
        .build()
    )
    request = CreateMessageRequest.builder().receive_id_type("open_id").request_body(body).build()
    response = client.im.v1.message.create(request)
    assert response.success(), response.msg
    return str(response.data.message_id)


def urgent(
    client: lark.Client, kind: str, message_id: str, ids: list[str], id_type: str = "open_id"
) -> Any:
    request_type, method = KINDS[kind]
    request = (
        request_type.builder()
        .message_id(message_id)
        .user_id_type(id_type)
        .request_body(UrgentReceivers.builder().user_id_list(ids).build())
        .build()
    )
    return getattr(client.im.v1.message, method)(request)


def test_in_app_urgency_reaches_the_receiver_and_names_the_others(
    sandbox: LarkSandbox, client: lark.Client
) -> None:
    message_id = card_to(client, ALICE)
    response = urgent(client, "app", message_id, [ALICE, BOB, "ou_nobody"])
    assert response.success(), response.msg
    assert response.data.invalid_user_id_list == [BOB, "ou_nobody"]  # not in the chat
    assert [(u.kind, u.open_id) for u in sandbox.urgent.sent] == [("app", ALICE)]


def test_user_id_type_selects_how_receivers_are_named(
    sandbox: LarkSandbox, client: lark.Client
) -> None:
    message_id = card_to(client, ALICE)
    assert urgent(client, "app", message_id, ["u_alice"], id_type="user_id").success()
    assert sandbox.urgent.sent[-1].open_id == ALICE


def test_only_the_bots_own_messages_can_be_urgent(
    sandbox: LarkSandbox, client: lark.Client
) -> None:
    user = sandbox.store.find_user("open_id", ALICE)
    assert user is not None
    theirs = sandbox.store.record_user_message(user, "hello bot")
    response = urgent(client, "app", theirs.message_id, [ALICE])
    assert response.code == 230012


def test_an_empty_receiver_list_is_refused(client: lark.Client) -> None:
    assert urgent(client, "app", card_to(client, ALICE), []).code == 230001


def test_a_user_holds_at_most_200_unread_urgents(sandbox: LarkSandbox, client: lark.Client) -> None:
    message_id = card_to(client, ALICE)
    sandbox.urgent.unread[ALICE] = UNREAD_LIMIT - 1
    assert urgent(client, "app", message_id, [ALICE]).success()
    assert urgent(client, "app", message_id, [ALICE]).code == 230023
    sandbox.urgent.read(ALICE)
    assert urgent(client, "app", message_id, [ALICE]).success()


@pytest.mark.parametrize("kind", ["sms", "phone"])
def test_sms_and_phone_draw_on_the_paid_quota(
    sandbox: LarkSandbox, client: lark.Client, kind: str
) -> None:
    message_id = card_to(client, ALICE)
    assert urgent(client, kind, message_id, [ALICE]).code == 230024  # none bought
    sandbox.urgent.quota[kind] = 1
    assert urgent(client, kind, message_id, [ALICE]).success()
    assert urgent(client, kind, message_id, [ALICE]).code == 230024  # spent
    assert [u.kind for u in sandbox.urgent.sent] == [kind]
