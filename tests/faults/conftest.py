"""Fixtures of the fault tests."""

from tests.faults.disk import small_disk  # noqa: F401 - a fixture for every fault test
