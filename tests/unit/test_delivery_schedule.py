"""Unit tests for the delivery retry schedule: backoff, jitter, caps, Retry-After, and when to give up."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wellpulse.alerts.delivery.schedule import RetryPolicy, next_attempt, parse_retry_after

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
DEFAULT = RetryPolicy()

_policies = st.builds(
    RetryPolicy,
    first_delay_seconds=st.floats(min_value=0.5, max_value=600),
    max_delay_seconds=st.floats(min_value=600, max_value=48 * 3600),
    max_attempts=st.integers(min_value=1, max_value=40),
    jitter=st.floats(min_value=0, max_value=1),
)
_retry_after = st.none() | st.floats(min_value=0, max_value=10 * 24 * 3600)
_seeds = st.integers(min_value=0, max_value=2**32)


def _delay(policy: RetryPolicy, attempts: int, retry_after: float | None = None, seed: int = 0) -> float | None:
    when = next_attempt(policy, attempts, NOW, retry_after_seconds=retry_after, rng=random.Random(seed))
    return None if when is None else (when - NOW).total_seconds()


def test_defaults_double_from_thirty_seconds_to_an_hour() -> None:
    no_jitter = RetryPolicy(jitter=0)
    delays = [_delay(no_jitter, attempts) for attempts in range(1, 12)]

    assert delays == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600, 3600]
    assert _delay(no_jitter, 12) is None


@given(_policies, st.integers(min_value=1, max_value=200), _seeds)
def test_the_jittered_delay_lies_between_the_jitter_floor_and_the_backoff(
    policy: RetryPolicy, attempts: int, seed: int
) -> None:
    delay = _delay(policy, attempts, seed=seed)
    if attempts >= policy.max_attempts:
        assert delay is None
        return
    ceiling = policy.backoff_seconds(attempts)
    assert delay is not None
    assert (1 - policy.jitter) * ceiling - 1e-6 <= delay <= ceiling + 1e-6


@given(_policies, st.integers(min_value=1, max_value=200))
def test_the_backoff_never_shrinks_and_never_passes_the_cap(policy: RetryPolicy, attempts: int) -> None:
    assert policy.backoff_seconds(attempts) <= policy.backoff_seconds(attempts + 1)
    assert policy.backoff_seconds(attempts + 1) <= policy.max_delay_seconds


@given(_policies, st.integers(min_value=1, max_value=200), _retry_after, _seeds)
def test_no_delay_passes_the_cap_unless_the_receiver_asked_for_longer(
    policy: RetryPolicy, attempts: int, retry_after: float | None, seed: int
) -> None:
    delay = _delay(policy, attempts, retry_after, seed)
    if delay is None:
        return
    asked = min(retry_after or 0.0, policy.max_retry_after_seconds)
    assert delay <= max(policy.max_delay_seconds, asked) + 1e-6


@given(_policies, st.integers(min_value=1, max_value=200), st.floats(min_value=0, max_value=10 * 24 * 3600), _seeds)
def test_a_retry_is_never_earlier_than_retry_after_within_a_day(
    policy: RetryPolicy, attempts: int, retry_after: float, seed: int
) -> None:
    delay = _delay(policy, attempts, retry_after, seed)
    if delay is None:
        return
    assert delay >= min(retry_after, policy.max_retry_after_seconds) - 1e-6


def test_an_absurd_retry_after_is_capped_at_a_day() -> None:
    assert _delay(DEFAULT, 1, retry_after=365 * 24 * 3600) == pytest.approx(24 * 3600)


@given(_policies, _retry_after, _seeds)
def test_there_is_a_next_attempt_exactly_until_max_attempts(
    policy: RetryPolicy, retry_after: float | None, seed: int
) -> None:
    made = [_delay(policy, attempts, retry_after, seed) for attempts in range(1, policy.max_attempts + 3)]

    assert all(delay is not None for delay in made[: policy.max_attempts - 1])
    assert all(delay is None for delay in made[policy.max_attempts - 1 :])


def test_the_same_seed_gives_the_same_schedule_and_jitter_spreads_different_ones() -> None:
    first = [_delay(DEFAULT, 5, seed=seed) for seed in range(20)]

    assert first == [_delay(DEFAULT, 5, seed=seed) for seed in range(20)]
    assert len(set(first)) > 1


def test_a_schedule_is_asked_only_after_an_attempt() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        next_attempt(DEFAULT, 0, NOW, retry_after_seconds=None, rng=random.Random(0))


@pytest.mark.parametrize(
    "policy",
    [
        {"first_delay_seconds": 0},
        {"first_delay_seconds": 60, "max_delay_seconds": 30},
        {"max_attempts": 0},
        {"jitter": 1.5},
        {"jitter": -0.1},
    ],
)
def test_a_policy_that_cannot_work_is_refused(policy: dict[str, float]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        RetryPolicy(**policy)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("0", 0.0),
        ("Mon, 23 Nov 2026 09:02:00 GMT", 120.0),  # IMF-fixdate
        ("Monday, 23-Nov-26 09:00:30 GMT", 30.0),  # RFC 850
        ("Mon Nov 23 09:01:00 2026", 60.0),  # asctime
        ("Sun, 22 Nov 2026 09:00:00 GMT", 0.0),  # already past: now
    ],
)
def test_retry_after_is_read_as_seconds_or_an_http_date(header: str, seconds: float) -> None:
    assert parse_retry_after(header, NOW) == seconds


@pytest.mark.parametrize("header", [None, "", "soon", "-5", "1.5", "١٢"])
def test_an_unreadable_retry_after_is_ignored(header: str | None) -> None:
    assert parse_retry_after(header, NOW) is None


def test_retry_after_dates_are_measured_from_now_in_any_zone() -> None:
    now_in_new_york = NOW.astimezone(timezone(timedelta(hours=-5)))

    assert parse_retry_after("Mon, 23 Nov 2026 09:02:00 GMT", now_in_new_york) == 120.0
