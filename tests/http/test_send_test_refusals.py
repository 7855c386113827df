"""``POST /v1/cards/test`` to an address the platform refuses is the caller's to fix: a 4xx with
the platform's code, never a 503 a client would retry. Through the real SDK path against the
sandbox platforms, which answer as the real ones do for a receiver they do not know."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sandbox.embedded import Embedded, start
from sandbox.tickets import approver, sample_ticket
from tests.conftest import fast_settings
from tests.gateway.admin import call, token
from tests.gateway.helpers import eventually

CASES = [
    # (platform, an address its app does not know, the platform's code for it)
    ("lark", "ou_nobody_here", "230013"),
    ("dingtalk", "nobody-here", "param.userIdNotExist"),
]


@pytest.fixture(params=CASES, ids=[case[0] for case in CASES])
async def case(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[Embedded, str, str, str]]:
    channel, address, platform_code = request.param
    embedded = await start(fast_settings(tmp_path / "data", sandbox_platforms=[channel]))
    try:
        yield embedded, channel, address, platform_code
    finally:
        await embedded.stop()


async def test_a_test_card_to_a_receiver_the_platform_does_not_know_is_422(
    case: tuple[Embedded, str, str, str],
) -> None:
    embedded, channel, address, platform_code = case
    gateway = embedded.gateway
    admin, support = await token(gateway, "admin"), await token(gateway, "support")
    binding = {"channel": channel, "address": address}
    status, answer = await call(gateway, "PUT", "/v1/bindings/acct-ghost", admin, binding)
    assert status in (200, 201), answer

    body = {"channel": channel, "account_id": "acct-ghost"}
    status, answer = await call(gateway, "POST", "/v1/cards/test", support, body)

    assert status == 422, answer
    assert answer["error"]["code"] == "receiver_unknown"
    assert platform_code in answer["error"]["message"]
    assert "account_id" in answer["error"]["fields"]


async def test_a_card_the_platform_refuses_is_counted_under_the_platforms_own_code(
    case: tuple[Embedded, str, str, str],
) -> None:
    # An operator's dashboard tells "receiver unknown" from "token refused" or "card too big" by
    # the platform's code, not by the gateway's one word for every refusal.
    embedded, channel, address, platform_code = case
    gateway, backend = embedded.gateway, embedded.backend
    assert backend is not None
    admin = await token(gateway, "admin")
    binding = {"channel": channel, "address": address}
    status, answer = await call(gateway, "PUT", "/v1/bindings/acct-ghost", admin, binding)
    assert status in (200, 201), answer
    status, _ = await backend.submit(sample_ticket("T-GHOST", [approver("acct-ghost", "Ghost")]))
    assert status == 202

    async def counted() -> dict[str, float] | None:
        async with aiohttp.ClientSession() as s, s.get(f"{gateway.url}/metrics") as r:
            text = await r.text()
        errors = {
            sample.labels["code"]: sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == "gateway_platform_errors_total"
            and sample.labels.get("platform") == channel
        }
        return errors or None

    assert await eventually(counted) == {platform_code: 1.0}
