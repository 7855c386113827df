"""The retry policy is a pure function: a table of attempts, ages and errors to decisions."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.retry import RetryStrategy

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
STRICT = RetryStrategy(base=1.0, cap=60.0, give_up_after=timedelta(hours=1), jitter=False)


@pytest.mark.parametrize(
    ("attempts", "age", "retryable", "retry_after", "delay"),
    [
        (1, timedelta(0), True, None, 1.0),
        (2, timedelta(0), True, None, 2.0),
        (5, timedelta(0), True, None, 16.0),
        (7, timedelta(0), True, None, 60.0),  # capped
        (30, timedelta(0), True, None, 60.0),  # no overflow far past the cap
        (1, timedelta(0), True, 120.0, 120.0),  # the platform's Retry-After wins when longer
        (5, timedelta(0), True, 3.0, 16.0),  # ...and never shortens the backoff
        (1, timedelta(0), False, None, None),  # a permanent error is not retried
        (3, timedelta(hours=1), True, None, None),  # too old: given up
        (3, timedelta(minutes=59), True, None, 4.0),
    ],
)
def test_the_policy_table(
    attempts: int, age: timedelta, retryable: bool, retry_after: float | None, delay: float | None
) -> None:
    decision = STRICT.decide(
        attempts, first_tried=T0, now=T0 + age, retryable=retryable, retry_after=retry_after
    )
    assert (decision.delay if decision else None) == delay


def test_jitter_stays_within_half_and_the_whole_ceiling() -> None:
    policy = RetryStrategy(base=1.0, cap=60.0, jitter=True)
    rng = random.Random(7)
    delays = [policy.decide(4, first_tried=T0, now=T0, retryable=True, rng=rng) for _ in range(200)]
    values = [d.delay for d in delays if d is not None]
    assert len(values) == 200 and all(4.0 <= v <= 8.0 for v in values)
    assert len(set(values)) > 100  # spread, so jobs that failed together do not retry together
