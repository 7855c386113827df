"""HTTP callback replay memory: one window decides how fresh a callback must be and how long it
is remembered, in the store, across restarts (Lark and DingTalk HTTP callback modes)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.settings.config import Settings
from bot.store.replays import StoredCallbackGuard
from bot.store.sqlite import SqliteStore
from sandbox.embedded import start
from tests.channels.dingtalk import test_http as ding
from tests.channels.lark import test_http as lark
from tests.conftest import fast_settings
from tests.gateway.helpers import trace
from tests.support.clock import MovableClock

FIFTY_MINUTES = 50 * 60


def ding_settings(data: Path, **extra: Any) -> Settings:
    http = {"mode": "http", "callback_token": ding.TOKEN, "callback_aes_key": ding.AES_KEY}
    return fast_settings(data, sandbox_platforms=["dingtalk"], dingtalk=http, **extra)


def lark_settings(data: Path) -> Settings:
    http = {"mode": "http", "encrypt_key": lark.ENCRYPT_KEY, "verification_token": lark.V_TOKEN}
    return fast_settings(data, sandbox_platforms=["lark"], lark=http)


async def test_a_fifty_minute_old_dingtalk_callback_is_outside_the_default_window(
    tmp_path: Path,
) -> None:
    gw = await start(ding_settings(tmp_path / "data"))
    try:
        ann = await gw.seat("dingtalk", "a1", "Ann")
        delivery = await ding.submit(gw, "RP-OLD", ann)
        old = str(int(ding.now_ms()) - FIFTY_MINUTES * 1000)
        status, answer = await ding.deliver(
            gw, ding.envelope(ding.click_payload(ann.address, delivery), ts=old)
        )
        assert status == 401 and "outside the replay window" in answer["error"]
        assert (await trace(ding.backend_of(gw), "RP-OLD"))["status"] == "pending"
    finally:
        await gw.stop()


async def test_a_callback_is_remembered_for_the_whole_window_it_could_be_accepted_in(
    tmp_path: Path,
) -> None:
    clock = MovableClock()
    gw = await start(ding_settings(tmp_path / "data", callback_window_seconds=3600), clock=clock)
    try:
        ann = await gw.seat("dingtalk", "a1", "Ann")
        delivery = await ding.submit(gw, "RP-WIN", ann)
        captured = ding.envelope(ding.click_payload(ann.address, delivery))
        assert (await ding.deliver(gw, captured))[0] == 200

        clock.advance(FIFTY_MINUTES)  # still inside the window: the memory must still hold it
        assert (await ding.deliver(gw, captured))[0] == 409
        clock.advance(11 * 60)  # the timestamp has left the window: stale, whatever the memory
        status, answer = await ding.deliver(gw, captured)
        assert status == 401 and "outside the replay window" in answer["error"]
        await ding.backend_of(gw).wait_for_decision("RP-WIN")
        assert len(ding.backend_of(gw).decisions) == 1
    finally:
        await gw.stop()


async def test_dingtalk_callbacks_replayed_after_a_restart_are_refused(tmp_path: Path) -> None:
    settings = ding_settings(tmp_path / "data")
    first = await start(settings)
    try:
        ann = await first.seat("dingtalk", "a1", "Ann")
        delivery = await ding.submit(first, "RP-RESTART", ann)
        click = ding.envelope(ding.click_payload(ann.address, delivery))
        assert (await ding.deliver(first, click))[0] == 200
        ts = ding.now_ms()
        robot = {"timestamp": ts, "sign": ding.robot_sign(ding.APP.client_secret, ts)}
        message = {"msgId": "m-1", "msgtype": "text", "text": {"content": "hi"}}
        assert (await ding.post(first, message, headers=robot))[0] == 200
    finally:
        await first.stop()

    second = await start(settings)
    try:
        assert (await ding.deliver(second, click))[0] == 409
        assert (await ding.post(second, message, headers=robot))[0] == 409
    finally:
        await second.stop()


async def test_lark_callbacks_replayed_after_a_restart_are_refused(tmp_path: Path) -> None:
    settings = lark_settings(tmp_path / "data")
    first = await start(settings)
    try:
        ann = await first.seat("lark", "a1", "Ann")
        cards = await lark.submit(first, "RP-LARK", [ann])
        body, headers = lark.seal(lark.click_event(first, ann, cards["a1"]))
        assert (await lark.post(first, body, headers))[0] == 200
    finally:
        await first.stop()

    second = await start(settings)
    try:
        assert (await lark.post(second, body, headers))[0] == 409
    finally:
        await second.stop()


async def test_expired_keys_are_swept_and_may_be_taken_again(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "g.db")
    await store.open()
    clock = MovableClock()
    guard = StoredCallbackGuard(store, clock, window_seconds=60)
    try:
        stamp = clock.now().timestamp()
        assert await guard.take("k", stamp) is True
        clock.advance(59)
        assert await guard.take("k", stamp) is False
        clock.advance(2)  # the timestamp can no longer pass the window
        assert await guard.take("other", clock.now().timestamp()) is True  # sweeps "k"
        async with store.read() as tx:
            rows = await tx.fetch_all("SELECT key FROM callback_replays")
        assert [r["key"] for r in rows] == ["other"]
        assert datetime.now(UTC) < clock.now()
    finally:
        await store.close()
