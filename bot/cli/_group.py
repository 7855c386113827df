"""What every command group module provides, so that ``bot.cli`` can register it.

A group module has ``add_commands(subparsers)``: it adds its parsers to the top-level
subparsers and gives each leaf ``set_defaults(run=<Command>)``. Its top level imports only the
standard library and the ``bot.cli`` helpers; everything else is imported inside the command.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Protocol, TypeAlias

Command: TypeAlias = Callable[[argparse.Namespace], int]
"""A command: the parsed arguments in, the exit status out."""

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class CommandGroup(Protocol):
    """A module of commands (``bot.cli.tokens``, ``bot.cli.bindings``, ...)."""

    def add_commands(self, subparsers: Subparsers) -> None:
        """Add this group's parsers, each leaf with ``set_defaults(run=...)``."""
