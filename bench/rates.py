"""Platform rate use: a burst of cards to many users with the sandbox Lark enforcing the real
limits (50 calls/s and 1000 calls/min per app and API, 5 sends/s per receiving user).

A burst's rate is set against the limit that bounds it: 50/s while its cards fit in one
minute's 1000, 1000/min beyond.

The figures are read from the sandbox's side: when each card was created, and how it answered
every OpenAPI call (429 for the app limit, code 230020 for the per-user limit).
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from bench.load import signed_submit, submit_all
from bench.run import DINGTALK_QPS, LARK_APP_PER_MINUTE, LARK_APP_QPS, LARK_USER_QPS, Run, times
from bot.settings.config import LarkSettings

SUBMIT_CONCURRENCY = 32
_LARK = LarkSettings()
# How long the gateway's minute window of an API takes to free every lane: a burst is measured
# after this long without Lark sends (the burst before may have filled it).
REFILL_SECONDS = _LARK.app_minute_seconds
SEND_PATH = "/open-apis/im/v1/messages"
USER_LIMIT_CODE = 230020
HOT_SHARE = 5  # in the skewed burst one user holds every fifth card


def burst_accounts(users: int) -> list[str]:
    """The burst's receiving users."""
    return [f"b{i}" for i in range(users)]


def receivers(users: int, n: int, skewed: bool) -> list[str]:
    """Who receives each of the ``n`` cards: round robin, or one user every fifth card."""
    accounts = burst_accounts(users)
    if not skewed:
        return [accounts[i % users] for i in range(n)]
    others = accounts[1:]
    picked, k = [], 0
    for i in range(n):
        if i % HOT_SHARE == 0:
            picked.append(accounts[0])
        else:
            picked.append(others[k % len(others)])
            k += 1
    return picked


def per_second(events: int, span: float) -> float:
    """The rate of ``events`` spread first to last over ``span`` seconds (NaN if unknown)."""
    if math.isnan(span) or span <= 0:
        return math.nan
    return (events - 1) / span


def max_per_second(stamps: list[float], seconds: float = 1.0) -> int:
    """The most events inside any window of ``seconds`` (1 s unless told)."""
    ordered, best, lo = sorted(stamps), 0, 0
    for hi, t in enumerate(ordered):
        while t - ordered[lo] >= seconds:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def lark_limit(cards: int) -> tuple[float, str]:
    """The Lark app limit (calls a second) that bounds a burst of ``cards``, and its name: the
    per-second one while the burst fits in one minute's calls, else the per-minute one."""
    if cards <= LARK_APP_PER_MINUTE:
        return float(LARK_APP_QPS), f"{LARK_APP_QPS}/s app limit"
    return LARK_APP_PER_MINUTE / 60.0, f"{LARK_APP_PER_MINUTE}/min app limit"


async def burst(run: Run, skewed: bool) -> dict[str, Any]:
    """Submit the burst (one approver per request), wait for every card, report rate use."""
    sizes = run.sizes
    who = receivers(sizes.burst_users, sizes.burst_cards, skewed)
    phase = "skew" if skewed else "burst"
    ids = run.ids(phase, len(who))
    requests = [
        signed_submit(run.host.secret, t, [(a, "sg")]) for t, a in zip(ids, who, strict=True)
    ]
    await asyncio.sleep(REFILL_SECONDS)
    started = time.time()
    accepted = await submit_all(run.host, requests, SUBMIT_CONCURRENCY)
    planned = [(d["delivery_id"], d["account_id"]) for _, r in accepted for d in r["deliveries"]]
    within = max(60.0, len(planned) / 8)
    await run.fleet.wait_for(lambda: all(run.fleet.card(d) for d, _ in planned), within, 0.5)
    result = tally(run, planned, started, len(requests) - len(accepted))
    result["skewed"] = skewed
    run.raw[phase] = result
    rows(run, result, skewed)
    return result


def tally(run: Run, planned: list[tuple[str, str]], started: float, refused: int) -> dict[str, Any]:
    """Rate use, drops, doubles, limits held, from the sandbox's stamps and log."""
    fleet = run.fleet
    found = {d: fleet.card(d) for d, _ in planned}
    stamps = [c[2] for c in found.values() if c is not None]
    per_user: dict[str, list[float]] = {}
    for delivery, account in planned:
        card = found[delivery]
        if card is not None:
            per_user.setdefault(account, []).append(card[2])
    sends = [r for r in fleet.lark_log(started) if r[0] == "POST" and r[1].startswith(SEND_PATH)]
    span = max(stamps) - min(stamps) if len(stamps) > 1 else float("nan")
    rate = per_second(len(stamps), span)
    hot = receivers(run.sizes.burst_users, 1, True)[0]
    others = [t for a, ts in per_user.items() if a != hot for t in ts]
    return {
        "cards": len(planned),
        "refused_submits": refused,
        "delivered": len(stamps),
        "dropped": len(planned) - len(stamps),
        "doubled": sum(max(0, fleet.card_count(d) - 1) for d, _ in planned),
        "rate_per_s": rate,
        "first_card_s": min(stamps) - started if stamps else float("nan"),
        "last_card_s": max(stamps) - started if stamps else float("nan"),
        "others_finish_s": max(others) - started if others else float("nan"),
        "others_cards": len(others),
        "max_per_user_1s": max((max_per_second(ts) for ts in per_user.values()), default=0),
        "max_app_sends_1s": max_per_second(stamps),
        "max_app_sends_60s": max_per_second(stamps, 60.0),
        "http_429": sum(1 for r in sends if r[2] == 429),
        "user_limit_rejections": sum(1 for r in sends if r[3] == USER_LIMIT_CODE),
        "send_calls": len(sends),
    }


def others_ideal(others: int, hot: int, rate: float) -> float:
    """When the other users' cards could all be out at the app's ``rate``: they have what the
    hot user's own limit leaves of it while the hot user's cards go, and all of it after."""
    hot_done = hot / LARK_USER_QPS
    share = rate - LARK_USER_QPS
    if others <= share * hot_done:
        return others / share
    return hot_done + (others - share * hot_done) / rate


def skewed_limit(cards: int, hot: int) -> tuple[float, str]:
    """The send rate the limits allow a burst of ``cards`` of which one user holds ``hot``, and
    its name: the app's limit, unless that user's own 5/s makes the burst last longer (the
    quick burst's 12 cards to one user take 2.2 s, its 60 at the app's 50/s 1.2 s)."""
    rate, name = lark_limit(cards)
    span = max((cards - 1) / rate, (hot - 1) / LARK_USER_QPS)
    if span * rate <= cards - 1:
        return rate, name
    return (cards - 1) / span, f"{LARK_USER_QPS}/s user limit on {hot} of the cards"


def rows(run: Run, r: dict[str, Any], skewed: bool) -> None:
    """The burst's rows."""
    n, users = r["cards"], run.sizes.burst_users
    section = f"Lark burst, {n} cards to {users} users" + (", one user 20 %" if skewed else "")
    hot = receivers(users, n, True).count(receivers(users, 1, True)[0])
    rate, limit = skewed_limit(n, hot) if skewed else lark_limit(n)
    run.add(
        section,
        "send rate",
        f"{r['rate_per_s']:.1f}/s",
        limit,
        times(r["rate_per_s"], rate),
        "≥ 0.95x",
    )
    run.add(
        section,
        "max sends in any 1 s / any 60 s",
        f"{r['max_app_sends_1s']} / {r['max_app_sends_60s']}",
        f"{LARK_APP_QPS} / {LARK_APP_PER_MINUTE}",
        "held"
        if r["max_app_sends_1s"] <= LARK_APP_QPS and r["max_app_sends_60s"] <= LARK_APP_PER_MINUTE
        else "exceeded",
        "held",
    )
    run.add(
        section,
        "dropped / doubled / refused submits",
        f"{r['dropped']} / {r['doubled']} / {r['refused_submits']}",
        "0 / 0 / 0",
        "",
        "0 dropped",
    )
    run.add(
        section,
        "max sends to one user in 1 s; 429s; per-user rejections",
        f"{r['max_per_user_1s']}; {r['http_429']}; {r['user_limit_rejections']}",
        f"{LARK_USER_QPS}/s user limit; 0; 0",
        "held" if r["max_per_user_1s"] <= LARK_USER_QPS else "exceeded",
        "held, 0 bursts of 429",
    )
    if skewed:
        ideal = others_ideal(r["others_cards"], n - r["others_cards"], lark_limit(n)[0])
        run.add(
            section,
            "other users' cards all sent after",
            f"{r['others_finish_s']:.1f} s",
            f"{ideal:.1f} s at the app limit",
            times(r["others_finish_s"], ideal),
            "≈ 1x (no head-of-line blocking)",
        )
    else:
        ideal = n / rate
        run.add(
            section,
            "all cards sent after",
            f"{r['last_card_s']:.1f} s",
            f"{ideal:.1f} s at the app limit",
            times(r["last_card_s"], ideal),
            "≈ 1x",
        )


CREATE_PATH = "/v1.0/card/instances/createAndDeliver"


async def dingtalk_burst(run: Run) -> dict[str, Any]:
    """A burst of cards on the sandbox DingTalk app enforcing the documented 20 calls/s per API."""
    n, users = run.sizes.dingtalk_cards, run.sizes.burst_users
    accounts = [f"d{i}" for i in range(users)]
    await run.fleet.seat("dingtalk", accounts)
    ids = run.ids("ding", n)
    requests = [
        signed_submit(run.host.secret, t, [(accounts[i % users], "cn")]) for i, t in enumerate(ids)
    ]
    started = time.time()
    accepted = await submit_all(run.host, requests, SUBMIT_CONCURRENCY)
    planned = {d["delivery_id"] for _, r in accepted for d in r["deliveries"]}
    deadline = time.perf_counter() + max(60.0, n / 4)
    while True:
        log, held = await run.fleet.platforms.dingtalk(accounts)
        cards = [d for ds in held.values() for d in ds if d in planned]
        if len(set(cards)) >= len(planned) or time.perf_counter() > deadline:
            break
        await asyncio.sleep(0.5)
    creates = [r for r in log if r[0] == "POST" and r[1] == CREATE_PATH and r[3] >= started]
    ok = sorted(r[3] for r in creates if r[2] == 200)
    span = ok[-1] - ok[0] if len(ok) > 1 else float("nan")
    result = {
        "cards": len(planned),
        "delivered": len(set(cards)),
        "dropped": len(planned) - len(set(cards)),
        "doubled": len(cards) - len(set(cards)),
        "rate_per_s": per_second(len(ok), span),
        "qps_403": sum(1 for r in creates if r[2] == 403),
        "max_calls_1s": max_per_second(ok),
        "last_card_s": ok[-1] - started if ok else float("nan"),
    }
    run.raw["dingtalk_burst"] = result
    section = f"DingTalk burst, {n} cards to {users} users"
    rate = result["rate_per_s"]
    run.add(
        section,
        "send rate",
        f"{rate:.1f}/s",
        f"{DINGTALK_QPS}/s per-API limit",
        times(rate, DINGTALK_QPS),
        "≥ 0.95x",
    )
    run.add(
        section,
        "dropped / doubled; QPS-limit 403s; max calls in 1 s",
        f"{result['dropped']} / {result['doubled']}; {result['qps_403']}; {result['max_calls_1s']}",
        f"0 / 0; 0; {DINGTALK_QPS}",
        "",
        "0 dropped, 0 bursts of 403",
    )
    return result
