"""The DingTalk channel (``dingtalk`` and ``dingtalk_enterprise``), one module per concern.

``channel`` (the :class:`~bot.channels.dingtalk.channel.DingTalkChannel` the registry builds),
``api`` (outbound OpenAPI client and token), ``runner`` (the stream connection on its own thread),
``http`` and ``crypto`` (HTTP callback mode and its signatures) and ``inbound`` (platform payloads
to core's actions and answers).
"""
