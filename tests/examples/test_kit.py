"""examples/submit.py and examples/backend_receiver.py against a real gateway: a signed submit
(resent under the same request id when its answer is lost), a click, and the decision webhook
verified and taken once by the receiver."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from standardwebhooks import Webhook

from bot.backend.webhook import WebhookBackend
from bot.core.models import ClickAction
from bot.core.ports import DecisionEvent
from examples.backend_receiver import DECISIONS_PATH, Decisions, make_app, serve
from sandbox.embedded import Embedded, start
from tests.conftest import fast_settings
from tests.examples.kit import new_secret, run_example, ticket
from tests.gateway.helpers import eventually


@dataclass
class Kit:
    """A gateway whose decisions go to the example receiver, and the files submit.py reads."""

    gateway: Embedded
    decisions: Decisions
    receiver_url: str
    secret: str
    secret_file: Path
    tmp: Path

    def ticket_file(self, ticket_id: str) -> Path:
        """The ticket's file, written once: a resend sends the very same bytes."""
        path = self.tmp / f"{ticket_id}.json"
        if not path.exists():
            path.write_text(json.dumps(ticket(ticket_id)))
        return path


@pytest.fixture
async def kit(tmp_path: Path, unused_tcp_port: int) -> AsyncIterator[Kit]:
    secret = new_secret()
    decisions = Decisions()
    runner = await serve(make_app(secret, decisions), "127.0.0.1", unused_tcp_port)
    receiver_url = f"http://127.0.0.1:{unused_tcp_port}{DECISIONS_PATH}"
    settings = fast_settings(tmp_path / "data", backend_url=receiver_url, backend_secret=secret)
    gateway = await start(settings)
    secret_file = tmp_path / "backend_secret"
    secret_file.write_text(secret + "\n")
    try:
        yield Kit(gateway, decisions, receiver_url, secret, secret_file, tmp_path)
    finally:
        await gateway.stop()
        await runner.cleanup()


async def _submit(kit: Kit, url: str, ticket_id: str, *extra: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    file = kit.ticket_file(ticket_id)
    return await run_example(
        "submit", str(file), "--url", url, "--secret-file", str(kit.secret_file), *extra
    )


async def test_submit_then_a_click_reaches_the_receiver_once(kit: Kit) -> None:
    url = kit.gateway.gateway.url
    code, first = await _submit(kit, url, "KIT-1", "--request-id", "req_kit_one_0001")
    assert code == 0 and first["status"] == 202 and not first["replayed"], first
    code, again = await _submit(kit, url, "KIT-1", "--request-id", "req_kit_one_0001")
    assert code == 0 and again["replayed"] and again["body"] == first["body"]

    memory = kit.gateway.memory
    assert memory is not None
    delivery = first["body"]["deliveries"][0]["delivery_id"]
    await memory.wait_for(delivery)
    await memory.click("2001", delivery, ClickAction.APPROVE)

    async def taken() -> bool:
        return len(kit.decisions.by_event) == 1

    await eventually(taken)
    ((event_id, event),) = kit.decisions.by_event.items()
    assert event["ticket_id"] == "KIT-1" and event["decision"] == "approved"

    # The gateway's retry of the same event (same webhook-id) is answered 200 and changes nothing.
    backend = WebhookBackend(kit.receiver_url, kit.secret)
    receipt = await backend.deliver(DecisionEvent.model_validate(event))
    await backend.close()
    assert receipt.status == 200 and kit.decisions.repeats == 1
    assert list(kit.decisions.by_event) == [event_id]


async def test_the_receiver_refuses_what_the_gateway_did_not_sign(kit: Kit) -> None:
    body = json.dumps({"event_id": "e1", "ticket_id": "T"})
    now = datetime.now(UTC)
    wrong = Webhook(new_secret()).sign("e1", now, body)
    signed_garbage = Webhook(kit.secret).sign("e2", now, "not json")
    async with aiohttp.ClientSession() as session:
        for msg_id, signature, data, status in [
            ("e1", wrong, body, 401),
            ("e2", signed_garbage, "not json", 400),
        ]:
            headers = {
                "webhook-id": msg_id,
                "webhook-timestamp": str(int(now.timestamp())),
                "webhook-signature": signature,
            }
            async with session.post(kit.receiver_url, data=data, headers=headers) as r:
                assert r.status == status, await r.text()
    assert kit.decisions.by_event == {}


async def test_an_answer_lost_on_the_way_back_is_resent_under_the_same_request_id(
    kit: Kit, unused_tcp_port_factory: object
) -> None:
    """A proxy forwards the first submission to the gateway, then drops its answer (503):
    submit.py resends under the same id, and the gateway answers from its memory."""
    gateway_url = kit.gateway.gateway.url
    seen: list[str] = []

    async def proxy(request: web.Request) -> web.Response:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() != "host"}
        seen.append(request.headers["x-request-id"])
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                request.method, gateway_url + request.path_qs, data=body, headers=headers
            ) as answer,
        ):
            text = await answer.text()
            if len(seen) == 1:
                return web.json_response({"error": "lost"}, status=503)
            return web.Response(
                text=text,
                status=answer.status,
                headers={
                    k: v for k, v in answer.headers.items() if k.lower() == "idempotent-replayed"
                },
                content_type="application/json",
            )

    app = web.Application()
    app.router.add_post("/v1/approvals", proxy)
    port = unused_tcp_port_factory()  # type: ignore[operator]
    runner = await serve(app, "127.0.0.1", port)
    try:
        code, out = await _submit(kit, f"http://127.0.0.1:{port}", "KIT-LOST")
    finally:
        await runner.cleanup()
    assert code == 0 and out["status"] == 202 and out["replayed"], out
    assert len(seen) == 2 and seen[0] == seen[1] == out["request_id"]
