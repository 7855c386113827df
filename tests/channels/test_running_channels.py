"""The writable channel directory answers membership and look-ups as its channels change."""

from __future__ import annotations

from bot.channel_access.running import RunningChannels
from bot.channels.memory import MemoryChannel


def test_a_channel_is_found_while_it_runs_and_not_once_dropped() -> None:
    lark = MemoryChannel("lark")
    running = RunningChannels({"lark": lark})
    assert "lark" in running and running.get("lark") is lark
    assert "email" not in running and running.get("email") is None
    email = MemoryChannel("email")
    running.put("email", email)
    assert "email" in running and running.get("email") is email
    running.drop("lark")
    assert "lark" not in running and running.get("lark") is None
    assert running.get("lark", email) is email
