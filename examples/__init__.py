"""Integrator examples: a decision-webhook receiver, a signed submit, an httpx signing hook.

Run them from the repository root as modules (``python -m examples.submit ...``); each depends
only on public packages (httpx, http-message-signatures, standardwebhooks, aiohttp), never on
the gateway's own code, so they can be copied into a ticket backend as they are.
"""
