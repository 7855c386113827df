"""``/preview`` in the product alone and with the sandbox's phone look plugged in.

The product draws no phone: without a card look each platform shows its payload JSON (open)
and its check; the embedded deployment plugs in the sandbox's phone drawing through
``bot.app.launch.Additions``, the same hook it adds its channels and routes with.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import aiohttp

from bot.app.launch import Additions, start_gateway
from bot.app.runtime import Gateway
from bot.app.storage import make_storage
from bot.channels.memory import MemoryChannel
from sandbox.embedded import start
from tests.conftest import fast_settings
from tests.gateway.admin import token


async def _preview(gateway: Gateway, bearer: str | None = None) -> str:
    headers = {"authorization": f"Bearer {bearer}"} if bearer else {}
    async with (
        aiohttp.ClientSession() as session,
        session.get(gateway.url + "/preview?state=pending", headers=headers) as answer,
    ):
        assert answer.status == 200
        return await answer.text()


async def test_the_product_alone_shows_each_payload_and_its_check_without_a_phone(
    tmp_path: Path,
) -> None:
    settings = fast_settings(tmp_path / "data", sandbox=False, backend_url="http://127.0.0.1:9")
    extra = Additions(channels={"memory": MemoryChannel()})
    async with contextlib.AsyncExitStack() as stack:
        gateway = await start_gateway(settings, stack, make_storage(settings), additions=extra)
        page = await _preview(gateway, await token(gateway, "support"))
    assert 'id="phone-lark"' in page and 'id="phone-dingtalk"' in page
    assert "phone-card" not in page.split("</style>")[1]  # no card drawn
    assert page.count('<details class="raw" open>') == 2  # the payloads shown instead
    assert "check-ok" in page and 'id="email"' in page


async def test_the_embedded_deployment_draws_every_chat_card_as_the_phone_shows_it(
    tmp_path: Path,
) -> None:
    async with await start(fast_settings(tmp_path / "data")) as embedded:
        page = await _preview(embedded.gateway)
    body = page.split("</style>")[1]
    assert 'class="phone-card phone-lark"' in body and 'class="phone-card phone-dingtalk"' in body
    assert '<details class="raw" open>' not in body
    assert ".phone-card" in page.split("</style>")[0]  # the look's stylesheet came with it
