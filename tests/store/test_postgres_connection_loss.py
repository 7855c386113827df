"""A replica whose PostgreSQL sessions are all terminated (``pg_terminate_backend``, as an
administrator or a failover does): it listens again by itself, re-reads what a NOTIFY lost
meanwhile could have said, and then hears the other replicas' NOTIFYs as before. Requests that
meet the lost connections fail as the store being unavailable, never as a driver error.

Every wait is bounded far below the periodic checks (600 s here): only a NOTIFY, or the
re-read after listening again, can end it in time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.core.storage import ChannelAuthorization
from bot.errors import StoreError, StoreUnavailable
from bot.store.postgres import PostgresStore
from bot.store.repos.outbox import OutboxRows
from tests.faults.postgres_down import refusing, terminate
from tests.gateway.helpers import eventually
from tests.store.engines import postgres_database

pytestmark = [pytest.mark.faults, pytest.mark.timeout(90)]
T0 = datetime(2026, 1, 1, tzinfo=UTC)
NEVER = 600.0  # no periodic check reaches this far: a wait ends by a NOTIFY or not at all
NAME = "gw_loss_b"  # application_name of the replica whose sessions are terminated


@pytest.fixture
async def replicas(pg_url: str) -> AsyncIterator[tuple[PostgresStore, PostgresStore]]:
    """Replica A, and replica B whose sessions the tests terminate."""
    a = PostgresStore(pg_url, pool_size=3)
    b = PostgresStore(f"{pg_url}&application_name={NAME}", pool_size=3)
    await a.open()
    await b.open()
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


async def _listening_again(b: PostgresStore) -> None:
    # Listening again, b re-reads: every lane woken, the consents read again.
    assert await b.wait_for_work(30) == ()
    assert await b.wait_for_consents(30) is True
    assert b.listener_problem() is None


async def test_a_terminated_listener_listens_again_and_hears_work_and_consents(
    replicas: tuple[PostgresStore, PostgresStore],
) -> None:
    a, b = replicas
    assert await terminate(application_name=NAME) >= 2  # the LISTEN connection and the pool's
    await _listening_again(b)

    async with a.unit() as tx:
        await tx.outbox.enqueue("forward_decision", "dec-1", T0)
    assert await b.wait_for_work(NEVER / 20) == ("forward_decision",)  # its NOTIFY

    woken = asyncio.create_task(b.wait_for_consents(NEVER))
    record = ChannelAuthorization(
        channel="lark", state="revoked", by="admin", at=datetime.now(UTC), notice_version="v"
    )
    async with a.unit() as tx:
        await tx.credentials.record_consent(record)
    assert await asyncio.wait_for(woken, 30) is True  # the commit's NOTIFY, not a timeout


async def test_a_terminated_listener_is_reported_until_it_listens_again() -> None:
    with postgres_database("gw_loss") as url:
        b = PostgresStore(f"{url}?application_name={NAME}", pool_size=3)
        await b.open()
        try:
            async with refusing(url):  # nothing can come back before it allows sessions again
                await terminate(application_name=NAME)

                async def down() -> str | None:
                    return b.listener_problem()

                problem = await eventually(down, within=30)
                assert "LISTEN connection was lost" in problem, problem
                with pytest.raises(StoreUnavailable) as caught:
                    async with b.unit() as tx:
                        await tx.outbox.enqueue("send_card", "del-1", T0)
                assert caught.value.code == "store_unavailable"
            await _listening_again(b)
        finally:
            await b.close()


async def test_a_transaction_whose_connection_is_terminated_fails_as_store_unavailable(
    replicas: tuple[PostgresStore, PostgresStore],
) -> None:
    _, b = replicas
    failures: list[BaseException] = []
    for _ in range(3):  # the pool's idle connections, then one made anew
        try:
            async with b.write() as tx:
                await tx.fetch_one("SELECT pg_backend_pid()")
                await terminate(application_name=NAME)  # under the open transaction
                await OutboxRows(tx).enqueue("send_card", "del-2", T0)
        except StoreError as exc:
            failures.append(exc)
    assert failures and all(isinstance(f, StoreUnavailable) for f in failures), failures
    async with b.unit() as tx:  # the pool made new connections
        await tx.outbox.enqueue("send_card", "del-3", T0)
