"""The OpenAPI document is generated from what the served routes declare, and says all of it:
an operationId and a tag on every operation, request and answer examples that fit their models,
the platform callback routes and the decision webhook; a route cannot exist without its entry,
nor an entry without its route."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import BaseModel

from bot.backend.webhook import WebhookBackend
from bot.channels.base import callback_routes
from bot.core.ports import DecisionEvent
from bot.http.openapi import UndeclaredRoute, callback_operations, document
from bot.http.routes import TABLES
from bot.http.samples import SAMPLES
from bot.http.schemas import HealthOut, ReadyOut
from sandbox.embedded import Embedded, start
from tests.channels.dingtalk import test_http as ding
from tests.channels.lark import test_http as lark
from tests.conftest import fast_settings

DOC = document()
METHODS = {"get", "put", "post", "delete", "patch"}


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = [(m, p, op) for p, item in doc["paths"].items() for m, op in item.items()]
    found += [
        (m, f"webhook:{name}", op)
        for name, item in doc["webhooks"].items()
        for m, op in item.items()
    ]
    return [(m, p, op) for m, p, op in found if m in METHODS]


def test_every_operation_has_a_unique_operation_id_and_a_known_tag() -> None:
    operations = _operations(DOC)
    ids = [op.get("operationId") for _, _, op in operations]
    assert None not in ids and len(ids) == len(set(ids)), ids
    tags = {tag["name"] for tag in DOC["tags"]}
    for method, path, op in operations:
        assert op.get("tags") and set(op["tags"]) <= tags, f"{method} {path}"
    # Grouped, not one bag: a generated client gets one module per tag.
    assert len({op["tags"][0] for _, _, op in operations}) >= 8


def test_every_json_body_and_answer_carries_an_example() -> None:
    for method, path, op in _operations(DOC):
        bodies = [("request", op.get("requestBody", {}).get("content", {}))]
        bodies += [(code, a.get("content", {})) for code, a in op["responses"].items()]
        for where, content in bodies:
            media = content.get("application/json")
            if media is not None:
                assert "example" in media, f"{method} {path} {where}"


@pytest.mark.parametrize("model", list(SAMPLES), ids=lambda m: m.__name__)
def test_each_example_is_valid_for_its_model(model: type[BaseModel]) -> None:
    model.model_validate(SAMPLES[model])


def test_a_route_without_a_declaration_stops_the_build() -> None:
    table = web.RouteTableDef()

    @table.get("/v1/undeclared")
    async def undeclared(request: web.Request) -> web.Response:
        return web.Response()

    with pytest.raises(UndeclaredRoute, match="GET /v1/undeclared"):
        document([*TABLES, table])


def test_the_decision_webhook_is_described_as_the_gateway_sends_it() -> None:
    webhook = DOC["webhooks"]["decision"]["post"]
    headers = {p["name"] for p in webhook["parameters"] if p["in"] == "header"}
    assert headers == {"webhook-id", "webhook-timestamp", "webhook-signature"}
    ref = webhook["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = DOC["components"]["schemas"][ref.rsplit("/", 1)[1]]
    event = DecisionEvent.model_validate(SAMPLES[DecisionEvent])
    backend = WebhookBackend("http://backend.invalid", "whsec_" + "QUJD" * 8)
    body, sent = backend.signed(event)
    assert set(json.loads(body)) == set(schema["properties"])
    assert {"webhook-id", "webhook-timestamp", "webhook-signature"} <= set(sent)
    assert {"200", "409", "429", "500"} <= set(webhook["responses"])


@pytest.fixture
async def http_mode(tmp_path: Path) -> AsyncIterator[Embedded]:
    settings = fast_settings(
        tmp_path / "data",
        sandbox_platforms=["lark", "dingtalk"],
        lark={"mode": "http", "encrypt_key": lark.ENCRYPT_KEY, "verification_token": lark.V_TOKEN},
        dingtalk={"mode": "http", "callback_token": ding.TOKEN, "callback_aes_key": ding.AES_KEY},
    )
    gw = await start(settings)
    try:
        yield gw
    finally:
        await gw.stop()


class _Guard:
    """Never consulted: the routes are only listed, not called."""


async def test_every_callback_route_a_channel_serves_is_documented(http_mode: Embedded) -> None:
    served = {
        (route.method, route.path)
        for channel in http_mode.gateway.channels.values()
        for route in callback_routes(channel, _Guard())  # type: ignore[arg-type]
        if isinstance(route, web.RouteDef)
    }
    documented = {("POST", path) for path in callback_operations()}
    assert served == documented


async def test_every_documented_operation_is_served(http_mode: Embedded) -> None:
    """Called without credentials, each documented operation reaches its handler: never the
    router's 404 or 405 (which say ``http_error``)."""
    url = http_mode.gateway.url
    async with aiohttp.ClientSession() as session, session.get(f"{url}/v1/openapi.json") as r:
        served_doc = await r.json()
    assert served_doc == json.loads(json.dumps(DOC))
    async with aiohttp.ClientSession() as session:
        for method, path, _ in _operations(served_doc):
            if path.startswith("webhook:"):
                continue
            target = url + path.replace("{", "").replace("}", "")
            async with session.request(method, target) as response:
                text = await response.text()
                routed = response.status not in (404, 405) or '"http_error"' not in text
                assert routed, f"{method} {path}: {response.status} {text[:200]}"


async def test_health_answers_fit_their_documented_models(http_mode: Embedded) -> None:
    url = http_mode.gateway.url
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{url}/healthz") as r:
            HealthOut.model_validate(await r.json())
        async with session.get(f"{url}/readyz") as r:
            ReadyOut.model_validate(await r.json())
