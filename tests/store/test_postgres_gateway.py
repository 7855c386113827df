"""The whole gateway on PostgreSQL: submit → card → click → decision forwarded, every card
redrawn; and the CLI migrating and reading the same database."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.app.runtime import Gateway
from bot.core.models import ActionStatus, ClickAction
from bot.secrets import encode_key, new_key
from bot.settings.config import Settings
from bot.store.postgres.store import MIGRATIONS as PG_MIGRATIONS
from sandbox.tickets import approver, sample_ticket
from tests.conftest import FAST_OUTBOX, fast_settings
from tests.gateway.helpers import eventually, parts, run_cli, states, trace

TWO = [approver("a1", "Ann"), approver("a2", "Bob", "ram")]


@pytest.fixture
def pg_settings(tmp_path: Path, pg_url: str) -> Settings:
    return fast_settings(tmp_path / "data", database_url=pg_url)


@pytest.fixture
async def pg_stack(pg_settings: Settings) -> AsyncIterator[object]:
    from sandbox.embedded import start

    embedded = await start(pg_settings)
    try:
        yield embedded
    finally:
        await embedded.stop()


async def test_a_click_on_postgresql_is_decided_forwarded_once_and_redrawn(
    pg_stack: object, pg_settings: Settings
) -> None:
    _, backend, memory = parts(pg_stack)
    status, receipt = await backend.submit(sample_ticket("T-PG", TWO))  # type: ignore[arg-type]
    assert status == 202, receipt
    cards = {d["account_id"]: d["delivery_id"] for d in receipt["deliveries"]}

    async def sent() -> bool:
        return all(s == "sent" for s in await states(backend, "T-PG"))

    await eventually(sent)
    click = await memory.click("a1", cards["a1"], ClickAction.APPROVE, "ship it")
    assert click.result.status is ActionStatus.DECIDED
    late = await memory.click("a2", cards["a2"], ClickAction.REJECT, "too late")
    assert late.result.status is ActionStatus.ALREADY_DECIDED
    decision = await backend.wait_for_decision("T-PG")
    assert decision.body["decision"] == "approved"

    async def all_done() -> bool:
        body = await trace(backend, "T-PG")
        forwarded = body["decision"]["forward_state"] == "forwarded"
        return forwarded and [d["state"] for d in body["deliveries"]] == ["updated", "updated"]

    await eventually(all_done)
    assert len(backend.decisions) == 1
    assert {c.view.state for c in memory.cards.values()} == {"approved"}
    assert not (pg_settings.data_dir / "gateway.db").exists()  # nothing went to SQLite


async def test_the_cli_migrates_postgresql_once_and_works_on_it(
    pg_url: str, tmp_path: Path
) -> None:
    env = {"APPROVAL_GATEWAY_DATABASE_URL": pg_url}
    first = await run_cli("db", "migrate", env=env, data_dir=tmp_path / "data")
    every = [version for version, _, _ in PG_MIGRATIONS]
    assert first.code == 0 and f"applied migrations: {every}" in first.out, first.output
    again = await run_cli("db", "migrate", env=env, data_dir=tmp_path / "data")
    assert again.code == 0 and "schema is up to date" in again.out, again.output
    created = await run_cli(
        "tokens", "create", "--role", "admin", env=env, data_dir=tmp_path / "data"
    )
    assert created.code == 0, created.output
    listed = await run_cli("tokens", "list", env=env, data_dir=tmp_path / "data")
    assert listed.code == 0 and "admin" in listed.out, listed.output
    assert not (tmp_path / "data" / "gateway.db").exists()


async def test_a_second_replica_runs_the_first_ones_jobs_and_takes_its_clicks(
    tmp_path: Path, pg_url: str
) -> None:
    """Replica A takes the submission but runs no jobs; replica B, woken by A's NOTIFY (its own
    idle poll is 60 s), sends the cards, takes the click and forwards the decision once."""
    from sandbox.embedded import start

    idle = FAST_OUTBOX.model_copy(update={"poll_seconds": 60.0})
    shared = {
        "database_url": pg_url,
        "outbox": idle,
        "master_key": encode_key(new_key()),  # one key and one backend secret for all replicas
        "backend_secret": "whsec_" + base64.b64encode(b"r" * 32).decode(),
    }
    a = await start(fast_settings(tmp_path / "a", **shared))
    try:
        _, backend, memory = parts(a)
        a.gateway.worker.stop()  # replica A claims nothing from here on
        settings_b = fast_settings(tmp_path / "b", **shared)
        async with Gateway(settings_b, {"memory": memory}, backend.url) as b:
            status, receipt = await backend.submit(sample_ticket("T-R2", TWO))  # type: ignore[arg-type]
            assert status == 202, receipt
            cards = {d["account_id"]: d["delivery_id"] for d in receipt["deliveries"]}

            async def sent() -> bool:
                return all(s == "sent" for s in await states(backend, "T-R2"))

            await eventually(sent)  # well inside B's 60 s poll: the NOTIFY woke it
            click = await memory.click("a1", cards["a1"], ClickAction.APPROVE)  # B's sink
            assert click.result.status is ActionStatus.DECIDED
            await backend.wait_for_decision("T-R2")
            assert b.worker.owner != a.gateway.worker.owner
        assert len(backend.decisions) == 1
    finally:
        await a.stop()
