"""The sandbox: stand-ins for DingTalk, Lark, the ticket backend and a mail catcher that speak the
real wire protocols, the sandbox phones, the embedded deployment and the demo.

Development tooling, not product: the production wheel does not ship this package and nothing in
``bot`` or ``cards`` imports it (an import-linter contract). ``bot.app.launch`` loads
``sandbox.embedded`` by name when ``APPROVAL_GATEWAY_SANDBOX`` is on.
"""

# First of all: the Lark sandbox parses frames with lark_oapi's own protobuf classes, and the
# gateway's Lark package loads only the parts of lark_oapi that run (bot.channels.lark.sdk).
import bot.channels.lark  # noqa: F401
