"""Approval gateway: routes approval cards to chat and email, forwards decisions exactly once."""

__version__ = "0.1.0"
__all__ = ["__version__"]
