"""asyncpg's errors, sorted at the store's edge: the database out of reach is
:class:`~bot.errors.StoreUnavailable` (answered 503 ``store_unavailable``, a caller tries again),
a second row a unique constraint refuses is a :class:`~bot.errors.Conflict`, anything else the
database says is a :class:`~bot.errors.StoreError`.
"""

from __future__ import annotations

import asyncpg

from bot.errors import Conflict, GatewayError, StoreError, StoreUnavailable

# The connection, not the statement, failed: lost (a server restart or pg_terminate_backend's
# 57P01), refused (too many connections, the server starting or stopping, the database not
# taking connections), or the driver's state broken with it (InternalClientError "cannot switch
# to state ..." when the socket closes under a query in flight). Insufficient resources (53xxx:
# a full disk, out of memory) pass as well: the same request succeeds once they are back.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    asyncpg.PostgresConnectionError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
    asyncpg.DatabaseDroppedError,
    asyncpg.IdleSessionTimeoutError,
    asyncpg.InsufficientResourcesError,
)
# Everything a call into asyncpg is expected to raise (a caller's wrong argument types aside).
DRIVER_ERRORS: tuple[type[BaseException], ...] = (*CONNECTION_ERRORS, asyncpg.PostgresError)
# ... and, when connecting, a URL the driver cannot read.
CONNECT_ERRORS: tuple[type[BaseException], ...] = (*DRIVER_ERRORS, ValueError)


def translated(exc: BaseException, doing: str) -> GatewayError | None:
    """The project's error for a driver error raised while ``doing`` something; None for one
    that is not the driver's."""
    if isinstance(exc, asyncpg.UniqueViolationError):
        return Conflict(f"already stored: {exc.constraint_name or exc}")
    if isinstance(exc, CONNECTION_ERRORS):
        return StoreUnavailable(f"{doing}: the database is unavailable ({_said(exc)})")
    if isinstance(exc, asyncpg.PostgresError):
        return StoreError(f"{doing}: {exc}")
    return None


def _said(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
