"""``POST /v1/cards/test`` to an address the platform refuses is the caller's to fix: a 4xx with
the platform's code, never a 503 a client would retry. Through the real SDK path against the
sandbox platforms, which answer as the real ones do for a receiver they do not know."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sandbox.embedded import Embedded, start
from tests.conftest import fast_settings
from tests.gateway.admin import call, token

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
