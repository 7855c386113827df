"""Load primitives of the driver: signed requests, a closed loop at fixed concurrency, an open
loop at a fixed offered rate, percentiles, and the host's control API."""

from __future__ import annotations

import asyncio
import json
import math
import time
import uuid
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot.backend.signing import sign_request
from sandbox.tickets import approver, sample_ticket

SUBMIT = "/v1/approvals"


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0..1) by nearest rank; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[rank]


@dataclass(frozen=True)
class Signed:
    """One ready-to-send signed submission."""

    ticket_id: str
    body: bytes
    headers: dict[str, str]


def signed_submit(secret: str, ticket_id: str, accounts: Sequence[tuple[str, str]]) -> Signed:
    """A signed ``POST /v1/approvals`` for ``ticket_id`` to (account, region) approvers."""
    approvers = [approver(a, f"User {a}", region=region) for a, region in accounts]
    body = json.dumps(sample_ticket(ticket_id, approvers)).encode()
    headers = sign_request(secret, "POST", SUBMIT, body, request_id=str(uuid.uuid4()))
    return Signed(ticket_id, body, {"content-type": "application/json", **headers})


@dataclass
class Closed:
    """What a closed loop measured."""

    ok: int
    failed: int
    wall: float
    latencies: list[float]
    statuses: dict[int, int] = field(default_factory=dict)

    def summary(self) -> dict[str, float]:
        """req/s, p50 and p99 (ms)."""
        return {
            "rps": self.ok / self.wall if self.wall else math.nan,
            "p50_ms": percentile(self.latencies, 0.5) * 1000,
            "p99_ms": percentile(self.latencies, 0.99) * 1000,
            "ok": self.ok,
            "failed": self.failed,
        }


async def closed_loop(
    session: aiohttp.ClientSession,
    urls: Sequence[str],
    requests: Sequence[Signed],
    concurrency: int,
) -> Closed:
    """Send every request with ``concurrency`` in flight, round robin over ``urls``; time each
    and the whole."""
    queue: asyncio.Queue[tuple[str, Signed]] = asyncio.Queue()
    for i, item in enumerate(requests):
        queue.put_nowait((urls[i % len(urls)], item))
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def worker() -> None:
        while not queue.empty():
            url, item = queue.get_nowait()
            t0 = time.perf_counter()
            async with session.post(url + SUBMIT, data=item.body, headers=item.headers) as r:
                await r.read()
                status = r.status
            latencies.append(time.perf_counter() - t0)
            statuses[status] = statuses.get(status, 0) + 1

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - start
    ok = statuses.get(202, 0)
    return Closed(ok, len(requests) - ok, wall, latencies, statuses)


async def open_loop(
    rate: float, count: int, one: Callable[[int], Coroutine[Any, Any, None]]
) -> list[BaseException]:
    """Start ``one(i)`` at ``rate`` per second regardless of how earlier ones fare."""
    start = time.perf_counter()
    tasks: list[asyncio.Task[None]] = []
    for i in range(count):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    results = await asyncio.gather(*tasks, return_exceptions=True)
    return [r for r in results if isinstance(r, BaseException)]


class Host:
    """A process of the run as the driver sees it: a gateway (its API, the control port of its
    memory channel), or the platforms process (its control port; ``url`` then names the gateway
    that its clicks' submissions went to)."""

    def __init__(self, session: aiohttp.ClientSession, info: dict[str, Any]) -> None:
        self.session = session
        self.url = str(info["gateway"])
        self.control = str(info["control"])
        self.secret = str(info["secret"])
        self._cards_next = 0
        self._decisions_next = 0
        self._log_next = 0
        self.cards: dict[str, tuple[str, float]] = {}  # delivery -> (address, created at)
        self.card_count: dict[str, int] = {}  # delivery -> creations seen (1 unless doubled)
        self.decisions: dict[str, list[tuple[str, float]]] = {}  # ticket -> [(webhook, at)]
        self.attempts: list[tuple[str, int]] = []
        self.lark_log: list[list[Any]] = []
        # One refresh at a time: two reading the same "since" would count each stamp twice.
        self._refreshing = asyncio.Lock()

    async def _post(self, path: str, body: dict[str, Any]) -> Any:
        async with self.session.post(self.control + path, json=body) as r:
            r.raise_for_status()
            return await r.json()

    async def _get(self, path: str) -> Any:
        async with self.session.get(self.control + path) as r:
            r.raise_for_status()
            return await r.json()

    async def seat(self, channel: str, accounts: Sequence[str]) -> dict[str, str]:
        """Add accounts as users of a platform; each one's address there."""
        got = await self._post("/seat", {"channel": channel, "accounts": list(accounts)})
        return {str(k): str(v) for k, v in got["addresses"].items()}

    async def limits(
        self,
        app_qps: int | None,
        user_qps: int | None,
        dingtalk_qps: int | None,
        app_per_minute: int | None = None,
    ) -> None:
        """Set the sandbox platforms' enforced limits (None: off)."""
        body = {
            "lark_app_qps": app_qps,
            "lark_app_per_minute": app_per_minute,
            "lark_user_qps": user_qps,
            "dingtalk_qps": dingtalk_qps,
        }
        await self._post("/limits", body)

    async def dingtalk(
        self, accounts: Sequence[str]
    ) -> tuple[list[list[Any]], dict[str, list[str]]]:
        """The sandbox DingTalk app's whole call log, and the cards each account holds."""
        log = (await self._get("/dingtalk/log"))["log"]
        held = (await self._post("/dingtalk/held", {"accounts": list(accounts)}))["held"]
        return log, held

    async def click(self, channel: str, account: str, delivery_id: str) -> dict[str, Any]:
        """Press Approve; returns the host's stamp of the press."""
        body = {"channel": channel, "account_id": account, "delivery_id": delivery_id}
        result: dict[str, Any] = await self._post("/click", body)
        return result

    async def lark_taps(self, rate: float, taps: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
        """Have the platforms press Approve on each (account, delivery id)'s Lark card, in an
        open loop at ``rate`` a second (``bench.press``); each press's delivery, stamp,
        lateness against the schedule and whether it failed."""
        got = await self._post("/lark/taps", {"rate": rate, "taps": [list(t) for t in taps]})
        return list(got["taps"])

    async def refresh(self) -> None:
        """Fetch new card and decision stamps and the Lark log."""
        async with self._refreshing:
            await self._refresh()

    async def _refresh(self) -> None:
        got = await self._get(f"/cards?since={self._cards_next}")
        self._cards_next = got["next"]
        for delivery, address, at in got["cards"]:
            self.card_count[delivery] = self.card_count.get(delivery, 0) + 1
            self.cards.setdefault(delivery, (address, at))
        got = await self._get(f"/decisions?since={self._decisions_next}")
        self._decisions_next = got["next"]
        for ticket, webhook, at in got["decisions"]:
            self.decisions.setdefault(ticket, []).append((webhook, at))
        self.attempts = [(w, s) for w, s in got["attempts"]]
        got = await self._get(f"/lark/log?since={self._log_next}")
        self._log_next = got["next"]
        self.lark_log.extend(got["log"])

    async def redrawn(self, since: int = 0) -> tuple[list[tuple[str, str, float]], int]:
        """Cards the platforms' card APIs redrew (channel, delivery id, when) from index
        ``since`` on, and the index to read from next."""
        got = await self._get(f"/redraws?since={since}")
        rows = [(str(c), str(d), float(at)) for c, d, at in got["redraws"]]
        return rows, int(got["next"])

    async def submit(self, item: Signed) -> tuple[int, dict[str, Any], float]:
        """Send one signed submission; (status, answer, wall time the answer arrived)."""
        async with self.session.post(self.url + SUBMIT, data=item.body, headers=item.headers) as r:
            text = await r.text()
            at = time.time()
            return r.status, json.loads(text) if text else {}, at


async def memory_cards(host: Host) -> int:
    """Cards the host's memory channel holds."""
    async with host.session.get(host.control + "/memory") as r:
        r.raise_for_status()
        return int((await r.json())["cards"])


async def submit_all(
    host: Host, requests: Sequence[Signed], concurrency: int
) -> list[tuple[str, dict[str, Any]]]:
    """Submit every request with ``concurrency`` in flight; (ticket id, receipt) of each 202."""
    queue = list(reversed(requests))
    accepted: list[tuple[str, dict[str, Any]]] = []

    async def worker() -> None:
        while queue:
            item = queue.pop()
            status, receipt, _ = await host.submit(item)
            if status == 202:
                accepted.append((item.ticket_id, receipt))

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return accepted
