"""The Lark/Feishu channel, one module per concern.

``channel`` (the :class:`~bot.channels.lark.channel.LarkChannel` the registry builds),
``messages`` (the outbound OpenAPI calls), ``api`` (the SDK client, tenant token, limits and
errors), ``ws`` and ``runner`` (the long connection on its own thread), ``http`` (HTTP callback
mode) and ``inbound`` (platform payloads to core's actions and answers).
"""
