"""The sandbox DingTalk stream with several connections of one app, driven by the real SDK.

Several gateway replicas each hold their own stream connection to the same app; the platform
pushes every frame through one of them, chosen at random (developerpedia
``docs/learn/stream/protocol.md``, FAQ on load balancing). The sandbox must do the same, or a
multi-replica test would only ever exercise one replica.
"""

from __future__ import annotations

from collections import Counter

from sandbox.dingtalk.sandbox import DingTalkSandbox
from tests.sandbox.test_dingtalk_sandbox import CARD_TOPIC, CardHandler, Events, Runner

PUSHES = 24  # all on one connection by chance: 2 * 2**-24


async def test_each_push_reaches_exactly_one_of_the_apps_connections_at_random(
    sandbox: DingTalkSandbox, run_client: Runner
) -> None:
    first, second = Events(), Events()
    run_client(sandbox, (CARD_TOPIC, CardHandler()), events=first)
    await sandbox.wait_connections(1)
    run_client(sandbox, (CARD_TOPIC, CardHandler()), events=second)
    await sandbox.wait_connections(2)
    for i in range(PUSHES):
        ack = await sandbox.push_event("user_add_org", {"userId": [f"u{i}"]})
        assert ack.code == 200

    got = Counter(message_id for message_id, _, _ in [*first.seen, *second.seen])
    assert len(got) == PUSHES and set(got.values()) == {1}, "each push went to one connection"
    assert first.seen and second.seen, "pushes are spread over the connections, not all to one"
