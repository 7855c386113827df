"""Benchmarks, reported as ratios against a baseline measured in the same run.

Absolute timings depend on the machine; a ratio to a baseline that does the unavoidable part of
the same work (an aiohttp handler that only checks the signature, a plain json.dumps) shows what
the gateway itself adds, and is comparable across runs and machines.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp
from aiohttp import web

from bot.clock import SystemClock
from bot.config import OutboxSettings, load_settings
from bot.core.models import ClickAction
from bot.http.signatures import RequestVerifier
from cards import CardState, Locale, render_dingtalk, render_lark, sample_view
from sandbox.embedded import start
from sandbox.tickets import approver, sample_ticket

N = int(sys.argv[1]) if len(sys.argv) > 1 else 300


async def _timed(n: int, one: Callable[[int], Awaitable[None]]) -> float:
    start_at = time.perf_counter()
    for i in range(n):
        await one(i)
    return (time.perf_counter() - start_at) / n


async def _baseline_server(secret: str) -> tuple[web.AppRunner, str]:
    verifier = RequestVerifier(secret, SystemClock())

    async def accept(request: web.Request) -> web.Response:
        await verifier.verify(request)
        return web.json_response({"ok": True}, status=202)

    app = web.Application()
    app.router.add_post("/v1/approvals", accept)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def bench_submit(data_dir: Path) -> tuple[float, float]:
    """Per-request time: signed submit to the gateway vs a handler that only verifies."""
    settings = load_settings(
        None,
        data_dir=data_dir,
        listen="127.0.0.1:0",
        backend_url=None,
        outbox=OutboxSettings(poll_seconds=0.05),
    )
    embedded = await start(settings)
    backend = embedded.backend
    assert backend is not None
    runner, base_url = await _baseline_server(backend.secret)
    async with aiohttp.ClientSession() as session:

        async def post(url: str, i: int) -> None:
            body = json.dumps(sample_ticket(f"B-{uuid.uuid4().hex[:10]}", [approver("a1", "Ann")]))
            headers = backend.sign("POST", "/v1/approvals", body.encode())
            async with session.post(url, data=body, headers=headers) as r:
                assert r.status == 202, await r.text()

        baseline = await _timed(N, lambda i: post(base_url + "/v1/approvals", i))
        gateway = await _timed(N, lambda i: post(embedded.gateway.url + "/v1/approvals", i))
    await runner.cleanup()
    await embedded.stop()
    return gateway, baseline


async def bench_click_to_forward(data_dir: Path) -> tuple[float, float]:
    """Click → signed decision at the backend, vs one plain HTTP round trip to the backend."""
    settings = load_settings(
        None,
        data_dir=data_dir,
        listen="127.0.0.1:0",
        backend_url=None,
        outbox=OutboxSettings(poll_seconds=0.05),
        sandbox_platforms=["memory"],  # a click without a platform's wire in the way
    )
    embedded = await start(settings)
    backend, memory = embedded.backend, embedded.memory
    assert backend is not None and memory is not None
    samples, base = [], []
    async with aiohttp.ClientSession() as session:
        for i in range(max(N // 10, 20)):
            ticket_id = f"C-{i}"
            _, receipt = await backend.submit(sample_ticket(ticket_id, [approver("a1", "Ann")]))
            delivery = receipt["deliveries"][0]["delivery_id"]
            await asyncio.wait_for(memory.wait_for(delivery), 10)
            t0 = time.perf_counter()
            await memory.click("a1", delivery, ClickAction.APPROVE)
            await backend.wait_for_decision(ticket_id)
            samples.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            async with session.post(backend.url, data=b"{}") as r:
                await r.read()
            base.append(time.perf_counter() - t0)
    await embedded.stop()
    return statistics.median(samples), statistics.median(base)


def bench_render() -> tuple[float, float]:
    """Rendering a Lark and a DingTalk card vs serialising the finished payloads."""
    views = [sample_view(s, loc) for s in CardState for loc in Locale]
    payloads = [(render_lark(v), render_dingtalk(v)) for v in views]
    t0 = time.perf_counter()
    for _ in range(20):
        for v in views:
            render_lark(v)
            render_dingtalk(v)
    render = time.perf_counter() - t0
    t0 = time.perf_counter()
    for _ in range(20):
        for lark, ding in payloads:
            json.dumps(lark)
            json.dumps(ding)
    return render, time.perf_counter() - t0


def _row(name: str, value: float, baseline: float, unit: str = "ms") -> None:
    print(
        f"{name:<34} {value * 1000:9.3f} {unit}  baseline {baseline * 1000:8.3f} {unit}"
        f"  ratio {value / baseline:6.2f}x"
    )


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        gateway, baseline = await bench_submit(Path(tmp) / "submit")
        _row("submit (signed, stored, planned)", gateway, baseline)
        click, base = await bench_click_to_forward(Path(tmp) / "click")
        _row("click -> decision at backend", click, base)
    render, dumps = bench_render()
    _row("render 28 cards x 20", render, dumps)


if __name__ == "__main__":
    asyncio.run(main())
