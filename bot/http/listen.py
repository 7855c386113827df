"""The listening sockets, bound before anything else starts.

Binding first turns "port in use" into a one-line error before a store, a platform stream or an
SDK thread exists, so a start that cannot serve ends at once instead of half running. The sockets
are bound but not listening: connections are refused until the HTTP site starts accepting on them,
which is the last step of the start, once everything behind it can take the work.
"""

from __future__ import annotations

import socket
from typing import Any

from bot.errors import ConfigError


def bind(host: str, port: int) -> list[socket.socket]:
    """Bound (not yet listening) sockets for every address ``host`` resolves to."""
    try:
        infos = socket.getaddrinfo(
            host.strip("[]") or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except socket.gaierror as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sockets.append(_bound(family, kind, proto, address, f"{host}:{port}"))
    except BaseException:
        close(sockets)
        raise
    return sockets


def close(sockets: list[socket.socket]) -> None:
    """Close the sockets (idempotent)."""
    for sock in sockets:
        sock.close()


def _bound(
    family: socket.AddressFamily,
    kind: socket.SocketKind,
    proto: int,
    address: Any,
    where: str,
) -> socket.socket:
    sock = socket.socket(family, kind, proto)
    try:
        # As asyncio's create_server does: restart without waiting out TIME_WAIT, and keep an
        # IPv6 socket off the IPv4 port so binding both families does not collide.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        reason = (exc.strerror or str(exc)).lower()
        raise ConfigError(
            f"cannot listen on {where}: {reason} (set APPROVAL_GATEWAY_LISTEN to a free host:port)"
        ) from None
    return sock
