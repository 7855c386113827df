"""The one writable channel directory, kept by the channel access.

Everyone else reads it through :class:`bot.core.directory.ChannelDirectory`; only
:class:`bot.channel_access.access.ChannelAccess` puts and drops channels, so what runs under a
name changes in one place.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from bot.core.directory import ChannelDirectory
from bot.core.ports import Channel


class RunningChannels(Mapping[str, Channel]):
    """The channels running now by name: a mapping to read, ``put``/``drop`` to change."""

    def __init__(self, channels: ChannelDirectory) -> None:
        self._channels = dict(channels.items())  # a copy: the caller's mapping is not shared

    def __getitem__(self, name: str) -> Channel:
        return self._channels[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._channels)

    def __len__(self) -> int:
        return len(self._channels)

    # The dict's own look-ups: routing asks for every channel of the deployment's order on each
    # submission, and Mapping's generic ones raise and catch a KeyError for each not running.
    def __contains__(self, name: object) -> bool:
        return name in self._channels

    def get(self, name: str, default: Channel | None = None) -> Channel | None:  # type: ignore[override]
        """The channel running under ``name``, else ``default``."""
        return self._channels.get(name, default)

    def put(self, name: str, channel: Channel) -> None:
        """Run ``channel`` under ``name`` (in place of any channel there)."""
        self._channels[name] = channel

    def drop(self, name: str) -> None:
        """Nothing runs under ``name`` any more (no error when nothing did)."""
        self._channels.pop(name, None)
