"""One error root for the whole gateway; edges translate these to HTTP answers or toasts.

::

    GatewayError
    ├── ConfigError              settings are missing or contradict each other
    ├── StoreError               the database failed or holds something unexpected
    │   └── StoreUnavailable     the database cannot be reached now (connection lost, refused)
    ├── VerificationError        an inbound call is not authentic (signature, token, replay)
    ├── AccessDenied             authentic, but the caller may not do this
    ├── InvalidInput             the request body or parameters are wrong (carries field errors)
    │   └── MalformedBody        the body is not JSON at all (400 rather than 422)
    ├── NotFound                 the named ticket, delivery or binding does not exist
    ├── Conflict                 the call contradicts what is already stored (idempotency key reuse, ...)
    ├── TooSoon                  asked again before its rate limit allows (retry_after seconds)
    ├── InvalidTransition        a state change the domain rules forbid
    ├── ChannelError             a chat or mail platform call failed (retryable or permanent)
    │   ├── ChannelThrottled     the platform asked us to slow down (retry_after)
    │   │   └── ChannelDeferred  our own rate budget is spent: the call was not made (retry_after)
    │   └── ReceiverUnknown      the platform does not know the receiver or it is out of scope
    └── BackendError             the ticket backend refused or failed a decision webhook

Each class's docstring is its default message, so ``raise NotFound()`` still says something useful.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only annotated here: the CLI's --help should not load pydantic for it
    from pydantic import ValidationError


class GatewayError(Exception):
    """The approval gateway failed."""

    code = "gateway_error"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or (self.__doc__ or self.code).strip().splitlines()[0]
        super().__init__(self.message)


class ConfigError(GatewayError):
    """The configuration is invalid."""

    code = "config_error"


class StoreError(GatewayError):
    """The store failed."""

    code = "store_error"


class StoreUnavailable(StoreError):
    """The store is unavailable; try again in a moment."""

    code = "store_unavailable"


class VerificationError(GatewayError):
    """The request could not be authenticated."""

    code = "unauthenticated"


class AccessDenied(GatewayError):
    """The caller is not allowed to do this."""

    code = "forbidden"


class InvalidInput(GatewayError):
    """The request is invalid."""

    code = "invalid_input"
    status = 422

    def __init__(self, message: str | None = None, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.fields: dict[str, str] = dict(fields or {})


class MalformedBody(InvalidInput):
    """The body is not UTF-8 JSON."""

    code = "invalid_json"
    status = 400

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, {"body": "invalid JSON"})


class UnsupportedMediaType(InvalidInput):
    """The body is not sent as application/json."""

    code = "unsupported_media_type"
    status = 415

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, {"content-type": "must be application/json"})


class NotFound(GatewayError):
    """Not found."""

    code = "not_found"


class Conflict(GatewayError):
    """The request conflicts with the current state."""

    code = "conflict"

    def __init__(self, message: str | None = None, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.fields: dict[str, str] = dict(fields or {})


class TooSoon(GatewayError):
    """Asked again too soon; try again later."""

    code = "too_soon"

    def __init__(
        self,
        message: str | None = None,
        retry_after: int = 1,
        fields: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.retry_after = max(1, retry_after)  # whole seconds, as Retry-After takes them
        self.fields = dict(fields or {})


class InvalidTransition(GatewayError):
    """This state change is not allowed."""

    code = "invalid_transition"


class ChannelError(GatewayError):
    """A channel platform call failed."""

    code = "channel_error"

    def __init__(
        self,
        message: str | None = None,
        *,
        retryable: bool = True,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.platform = ""  # the channel that failed, once known (for the error counts)
        self.platform_code = ""  # the platform's own code for the refusal, when it gave one


class ChannelThrottled(ChannelError):
    """The channel platform throttled us."""

    code = "channel_throttled"

    def __init__(self, message: str | None = None, *, retry_after: float | None = None) -> None:
        super().__init__(message, retryable=True, retry_after=retry_after)


class ChannelDeferred(ChannelThrottled):
    """The platform call was not made: its rate budget is spent until ``retry_after``.

    Not a failure: the outbox puts the job back for exactly ``retry_after`` seconds, without
    backoff and without counting an attempt.
    """

    code = "channel_deferred"


class ReceiverUnknown(ChannelError):
    """The platform refused the receiver: unknown to it, or outside the app's scope.

    The address is the caller's to fix (the binding, the app's visible range), never a retry's:
    an API caller is answered 4xx, the outbox does not retry it.
    """

    code = "receiver_unknown"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, retryable=False)


class BackendError(GatewayError):
    """The ticket backend did not accept the decision."""

    code = "backend_error"

    def __init__(
        self,
        message: str | None = None,
        *,
        retryable: bool = True,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


def validation_fields(exc: ValidationError) -> dict[str, str]:
    """pydantic errors as ``{"approvers.0.account_type": "Input should be ..."}``."""
    fields: dict[str, str] = {}
    for err in exc.errors(include_url=False):
        where = ".".join(str(part) for part in err["loc"]) or "body"
        fields.setdefault(where, err["msg"])
    return fields
