"""The benchmark harness behind ``scripts/bench`` (development tooling, not in the wheel).

``bench.host`` runs the gateway in its own process (the embedded deployment ``serve`` starts
with the sandbox on) plus a small control port; ``bench.bare`` is the same-run baseline, a bare
aiohttp endpoint doing the signature check and validation only; ``python -m bench`` is the load
driver, a separate process that starts both, runs the phases and writes ``bench-results/``.
"""
