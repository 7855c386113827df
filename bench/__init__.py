"""The benchmark harness behind ``scripts/bench`` (development tooling, not in the wheel).

``bench.platforms`` runs the sandbox Lark and DingTalk apps, ticket backend and mail catcher in
a process of their own, shared by every gateway; ``bench.host`` runs one gateway (what
``serve`` starts: the real channels pointed at those platforms, plus the in-process memory
channel) with a small control port; ``bench.bare`` is the same-run baseline, a bare aiohttp
endpoint doing the signature check and validation only; ``python -m bench`` is the load driver,
a separate process that starts them all, runs the phases and writes ``bench-results/``.
"""
