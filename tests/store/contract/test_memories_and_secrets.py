"""What every replica must share: consents, sealed secrets, idempotency and replay memory,
binding and email codes; and the wake-up when work arrives."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.core.ports import PendingEmail, SignedAnswer
from bot.core.storage import ChannelAuthorization, Sealed
from bot.store.authorizations import AuthorizationStore
from bot.store.engine import EngineStore
from bot.store.postgres import PostgresStore
from bot.store.preferences import VerificationStore
from bot.store.replays import StoredCallbackGuard
from tests.support.clock import MovableClock

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


async def test_consents_are_recorded_and_replaced(engine: EngineStore) -> None:
    consents = AuthorizationStore(engine)
    first = ChannelAuthorization(
        channel="lark", state="authorized", by="admin", at=T0, notice_version="v1"
    )
    async with engine.unit() as tx:
        await tx.credentials.record_consent(first)
        await tx.credentials.record_consent(
            first.model_copy(update={"state": "revoked", "by": "bob"})
        )
    stored = (await consents.all())["lark"]
    assert (stored.state, stored.by, stored.at, stored.notice_version) == (
        "revoked",
        "bob",
        T0,
        "v1",
    )
    assert stored.paid_urgency is False


async def test_a_consent_keeps_whether_paid_urgency_was_accepted(engine: EngineStore) -> None:
    consents = AuthorizationStore(engine)
    paid = ChannelAuthorization(
        channel="lark",
        state="authorized",
        by="admin",
        at=T0,
        notice_version="v1",
        paid_urgency=True,
    )
    async with engine.unit() as tx:
        await tx.credentials.record_consent(paid)
    assert (await consents.all())["lark"].paid_urgency is True
    async with engine.unit() as tx:  # authorized again without it: withdrawn
        await tx.credentials.record_consent(paid.model_copy(update={"paid_urgency": False}))
    assert (await consents.all())["lark"].paid_urgency is False


async def test_sealed_secrets_put_replace_list_and_delete(engine: EngineStore) -> None:
    async with engine.unit() as tx:
        await tx.credentials.put("channel:lark", Sealed("k1", b"\x00blob"), T0)
        await tx.credentials.put("channel:lark", Sealed("k2", b"\x01new"), T0)
        await tx.credentials.put("sentinel", Sealed("k2", b"s"), T0)
    async with engine.snapshot() as tx:
        assert await tx.credentials.get("channel:lark") == Sealed("k2", b"\x01new")
        assert sorted(name for name, _ in await tx.credentials.every()) == [
            "channel:lark",
            "sentinel",
        ]
    async with engine.unit() as tx:
        assert await tx.credentials.delete("channel:lark")
        assert not await tx.credentials.delete("channel:lark")
        assert await tx.credentials.get("channel:lark") is None


async def test_kept_answers_are_recalled_resealed_and_forgotten(engine: EngineStore) -> None:
    answer = SignedAnswer(request_hash="h", status=201, content_type="json", key_id="k1", body=b"x")
    async with engine.unit() as tx:
        await tx.answers.keep("req-1", answer, T0, T0 + timedelta(hours=1))
    async with engine.unit() as tx:
        assert await tx.credentials.sealed_answers() == [("req-1", Sealed("k1", b"x"))]
        await tx.credentials.reseal_answer("req-1", Sealed("k2", b"y"))
    async with engine.unit() as tx:
        kept = await tx.answers.recall("req-1")
        assert kept is not None and (kept.status, kept.key_id, kept.body) == (201, "k2", b"y")
        assert await tx.answers.forget(T0 + timedelta(minutes=59), 10) == 0
        assert await tx.answers.forget(T0 + timedelta(hours=2), 10) == 1
        assert await tx.answers.recall("req-1") is None


async def test_a_callback_is_taken_once_until_its_window_passes(engine: EngineStore) -> None:
    clock = MovableClock()
    guard = StoredCallbackGuard(engine, clock, window_seconds=300)
    now = clock.now().timestamp()
    assert await guard.take("event-1", now)
    assert not await guard.take("event-1", now)  # a replay
    await guard.release("event-1")
    assert await guard.take("event-1", now)  # released: taken again
    clock.advance(601)
    assert await guard.take("event-1", now)  # expired memory is taken over


async def test_a_binding_code_is_taken_once_and_not_after_it_expires(engine: EngineStore) -> None:
    async with engine.unit() as tx:
        await tx.identities.put_code("hash-1", "a1", T0, T0 + timedelta(minutes=10))
        await tx.identities.put_code("hash-2", "a2", T0, T0 + timedelta(minutes=10))
    async with engine.unit() as tx:
        assert await tx.identities.take_code("hash-1", T0 + timedelta(minutes=1)) == "a1"
        assert await tx.identities.take_code("hash-1", T0 + timedelta(minutes=2)) is None
        assert await tx.identities.take_code("hash-2", T0 + timedelta(minutes=11)) is None


async def test_an_email_code_confirms_once(engine: EngineStore) -> None:
    codes = VerificationStore(engine)
    pending = PendingEmail(
        account_id="a1",
        address="ann@example.com",
        requested_by="a1",
        method="self",
        expires_at=T0 + timedelta(minutes=15),
    )
    await codes.put(pending, "code-hash", T0)
    await codes.put(pending, "code-hash-2", T0)  # a new code replaces the old one
    assert await codes.pending("a1", T0) == pending
    assert await codes.confirm("a1", "code-hash", T0) is None
    assert await codes.confirm("a1", "code-hash-2", T0) == pending
    assert await codes.pending("a1", T0) is None


async def test_an_enqueue_wakes_every_store_on_the_database(engine: EngineStore) -> None:
    if not isinstance(engine, PostgresStore):
        engine.work_enqueued("send_card")  # SQLite: one process, woken in process
        assert await engine.wait_for_work(5) == ("send_card",)
        return
    other = PostgresStore(engine._url, pool_size=2)  # another replica on the same database
    await other.open()
    try:
        waiting = asyncio.create_task(other.wait_for_work(10))
        await asyncio.sleep(0)  # the waiter is waiting before the job arrives
        async with engine.unit() as tx:
            await tx.outbox.enqueue("send_card", "del-1", T0)
        assert await waiting == ("send_card",)
        assert await other.wait_for_work(0.05) is None  # one wake-up per arrival
    finally:
        await other.close()
