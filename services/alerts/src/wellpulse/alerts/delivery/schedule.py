"""When to try a delivery again: exponential backoff with jitter, bounded, and polite to ``Retry-After``.

Pure: the clock and the random source come in as arguments, so every schedule can be tested exactly.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

# 2**63 seconds is beyond any cap; bounding the exponent keeps the float arithmetic finite.
_MAX_EXPONENT = 63


@dataclass(frozen=True)
class RetryPolicy:
    """Delays between attempts: ``first_delay_seconds``, doubling, capped at ``max_delay_seconds``.

    With the defaults the eleven waits between twelve attempts add up to at most 18,210 s (about five
    hours; about four on average with jitter) before the delivery is marked failed.
    ``jitter`` spreads each delay uniformly over ``[(1 - jitter) * d, d]`` so deliveries that failed
    together (a receiver outage) do not all come back in the same second.
    """

    first_delay_seconds: float = 30.0
    max_delay_seconds: float = 3600.0
    max_attempts: int = 12
    jitter: float = 0.5
    # A receiver asking us to wait longer than this is more likely misconfigured than busy.
    max_retry_after_seconds: float = 24 * 3600.0

    def __post_init__(self) -> None:
        if self.first_delay_seconds <= 0:
            raise ValueError("first_delay_seconds must be positive")
        if self.max_delay_seconds < self.first_delay_seconds:
            raise ValueError("max_delay_seconds must be at least first_delay_seconds")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")
        if self.max_retry_after_seconds < 0:
            raise ValueError("max_retry_after_seconds must not be negative")

    def backoff_seconds(self, attempts_made: int) -> float:
        """The delay before the next attempt before jitter: the upper bound of the jittered delay."""
        exponent = min(attempts_made - 1, _MAX_EXPONENT)
        return float(min(self.first_delay_seconds * 2**exponent, self.max_delay_seconds))


def next_attempt(
    policy: RetryPolicy,
    attempts_made: int,
    now: datetime,
    *,
    retry_after_seconds: float | None,
    rng: random.Random,
) -> datetime | None:
    """When to make attempt ``attempts_made + 1``, or None when the delivery has used all its attempts."""
    if attempts_made < 1:
        raise ValueError("next_attempt is asked after an attempt: attempts_made must be at least 1")
    if attempts_made >= policy.max_attempts:
        return None
    ceiling = policy.backoff_seconds(attempts_made)
    delay = rng.uniform((1 - policy.jitter) * ceiling, ceiling)
    if retry_after_seconds is not None:
        delay = max(delay, min(max(retry_after_seconds, 0.0), policy.max_retry_after_seconds))
    return now + timedelta(seconds=delay)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delay-seconds or an HTTP-date (RFC 9110 §10.2.3).

    None when absent or unreadable: the backoff alone then decides. A date in the past means now (0).
    """
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (ValueError, TypeError):
        return None
    if when.tzinfo is None:
        # asctime dates carry no zone; HTTP dates are always GMT.
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)
