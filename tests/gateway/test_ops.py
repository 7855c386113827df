"""Health, readiness, metrics and the OpenAPI document."""

from __future__ import annotations

import aiohttp

from bot.core.models import ClickAction
from sandbox.tickets import approver, sample_ticket
from tests.gateway.helpers import eventually, parts


async def _get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as s, s.get(url) as r:
        return r.status, await r.text()


async def test_health_and_readiness(stack: object) -> None:
    gateway, _, memory = parts(stack)
    url = gateway.gateway.url
    assert (await _get(f"{url}/healthz"))[0] == 200
    status, body = await _get(f"{url}/readyz")
    assert status == 200 and '"memory": "connected"' in body
    await memory.stop()  # the channel's stream is down: not ready
    status, body = await _get(f"{url}/readyz")
    assert status == 503 and '"memory": "disconnected"' in body


async def test_metrics_count_requests_deliveries_and_forwarding(stack: object) -> None:
    gateway, backend, memory = parts(stack)
    await backend.submit(sample_ticket("T-M", [approver("a1", "Ann")]))

    async def sent() -> bool:
        return bool(memory.cards)

    await eventually(sent)
    delivery = next(iter(memory.cards))
    await memory.click("a1", delivery, ClickAction.APPROVE)
    await backend.wait_for_decision("T-M")

    async def scraped() -> str | None:
        text = (await _get(f"{gateway.gateway.url}/metrics"))[1]
        return text if "gateway_forward_latency_seconds_count 1.0" in text else None

    text = await eventually(scraped)
    assert "gateway_requests_total 1.0" in text
    assert 'gateway_clicks_total{channel="memory",status="decided"} 1.0' in text
    assert 'gateway_requests_by_status{status="approved"} 1.0' in text
    assert 'gateway_channel_connected{channel="memory"} 1.0' in text
    assert "gateway_outbox_depth" in text


async def test_openapi_document_describes_the_api(stack: object) -> None:
    gateway, _, _ = parts(stack)
    async with aiohttp.ClientSession() as s, s.get(f"{gateway.gateway.url}/v1/openapi.json") as r:
        doc = await r.json()
    assert doc["openapi"] == "3.1.0"
    assert {
        "/v1/approvals",
        "/v1/approvals/{ticket_id}",
        "/v1/approvals/{ticket_id}/withdraw",
        "/v1/bindings",
        "/v1/bindings/{account_id}",
        "/v1/me/binding-codes",
        "/v1/me/binding",
    } <= set(doc["paths"])
    schemas = doc["components"]["schemas"]
    assert {"ApprovalRequest", "SubmitReceipt", "ApprovalOut", "ErrorBody"} <= set(schemas)
    assert "account_type" in schemas["Approver"]["properties"]
    # every $ref resolves inside the document
    import json
    import re

    for ref in re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(doc)):
        assert ref in schemas, ref


def test_every_api_route_is_in_the_openapi_document() -> None:
    from aiohttp import web

    from bot.http import approvals, audit, bindings, channels, me, preferences, sendtest, usage
    from bot.http.openapi import document

    paths = document()["paths"]
    for module in (approvals, audit, bindings, channels, me, preferences, sendtest, usage):
        for route in module.routes:
            assert isinstance(route, web.RouteDef)
            path = route.path.replace("{account_id:.+}", "{account_id}")
            assert route.method.lower() in paths.get(path, {}), f"{route.method} {path}"
