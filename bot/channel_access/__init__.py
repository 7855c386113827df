"""Channel authorization with consent: nothing is sent on a channel before an admin agreed to it.

An admin reads the channel's notice (what the gateway does with the credential, what each message
costs), accepts that exact version, and hands over credentials unless the settings hold them.
The gateway checks they work, seals them, records the consent and starts the channel. Revoking
stops the channel, deletes the credential row, drops the channel built from it from memory and
moves the channel's queued deliveries elsewhere.

A channel's state is derived, never stored twice: ``unauthorized`` and ``revoked`` come from the
record; an authorized record whose notice changed since (new rates) is ``consent_needed`` (it
sends nothing; its queued cards wait for renewed consent up to ``consent_wait_seconds``, then fall
back through routing); one with no usable credential (none stored, none in settings, or one that
does not open) is ``broken``. Only ``authorized`` sends. The router and the outbox consult this on
every send; the in-memory record changes before the database on revoke (stop sending first) and
after it on authorize (never send on a consent that did not commit).

The package, by responsibility: ``notice`` (what an admin agrees to, and its version),
``models`` (the answers the API shows), ``credentials`` (sealing a channel's credentials into the
store), ``factory`` (building a channel from credentials, and the stand-in for a broken one),
``access`` (the consent policy and the channels' lifecycle that follows it).
"""

from bot.channel_access.access import ChannelAccess
from bot.channel_access.factory import UnusableChannel, build_channel
from bot.channel_access.models import AuthorizeResult, ChannelStatus, ConsentRequired
from bot.channel_access.notice import Notice, credential_fields

__all__ = [
    "AuthorizeResult",
    "ChannelAccess",
    "ChannelStatus",
    "ConsentRequired",
    "Notice",
    "UnusableChannel",
    "build_channel",
    "credential_fields",
]
