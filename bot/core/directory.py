"""The channel directory: which channels this gateway runs now, by name, as a read-only port.

Routing, the jobs and the HTTP layer read it; they never change it. One module changes it, the
channel access (``bot.channel_access``), which starts, swaps and stops channels as consents are
given and withdrawn; it keeps the only writable directory and hands out this read side.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterator, KeysView, ValuesView
from typing import Protocol

from bot.core.intake import ChannelName
from bot.core.ports import Channel


class ChannelDirectory(Protocol):
    """The running channels by name, read-only (a plain mapping satisfies it, as in tests)."""

    def __getitem__(self, name: ChannelName, /) -> Channel: ...

    def __contains__(self, name: object, /) -> bool: ...

    def __iter__(self) -> Iterator[ChannelName]: ...

    def __len__(self) -> int: ...

    def get(self, name: ChannelName, /) -> Channel | None:
        """The channel running under ``name``, if any."""
        ...

    def keys(self) -> KeysView[ChannelName]:
        """The names of the running channels."""
        ...

    def values(self) -> ValuesView[Channel]:
        """The running channels."""
        ...

    def items(self) -> ItemsView[ChannelName, Channel]:
        """The running channels with their names."""
        ...
