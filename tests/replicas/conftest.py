"""Fixtures shared with the sandbox tests: real DingTalk SDK clients against a sandbox app."""

from tests.sandbox.test_dingtalk_sandbox import _no_proxy, run_client, sandbox  # noqa: F401
