"""When to try a failed job again: a pure policy, so it can be table-tested."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class RetryDecision:
    """Try again after ``delay`` seconds."""

    delay: float


@dataclass(frozen=True)
class RetryStrategy:
    """Exponential backoff with full jitter and a cap; gives up after ``give_up_after``."""

    base: float = 1.0
    cap: float = 300.0
    give_up_after: timedelta = timedelta(hours=24)
    jitter: bool = True

    def decide(
        self,
        attempts: int,
        *,
        first_tried: datetime,
        now: datetime,
        retryable: bool,
        retry_after: float | None = None,
        rng: random.Random | None = None,
    ) -> RetryDecision | None:
        """The next delay after ``attempts`` failures, or None to give up."""
        if not retryable or now - first_tried >= self.give_up_after:
            return None
        ceiling = min(self.cap, self.base * 2 ** max(attempts - 1, 0))
        # Full jitter spreads retries of many jobs that failed together (a backend outage).
        delay = (rng or random).uniform(ceiling / 2, ceiling) if self.jitter else ceiling
        if retry_after is not None:
            delay = max(delay, retry_after)
        return RetryDecision(delay=delay)
