"""The Lark/Feishu channel, one module per concern.

``channel`` (the :class:`~bot.channels.lark.channel.LarkChannel` the registry builds),
``messages`` (the outbound OpenAPI calls), ``api`` (the app's HTTP session, tenant token and
errors), ``ws`` and ``runner`` (the long connection on its own thread), ``http`` (HTTP callback
mode), ``inbound`` (platform payloads to core's actions and answers) and ``sdk`` (loads only the
parts of ``lark_oapi`` that run, before any module here imports it).
"""

from bot.channels.lark import sdk as _sdk

_sdk.install()
