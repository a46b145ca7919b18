"""Which weeks reporting shows: a week once it is over and its last responses are in, so no figure
moves under a leader's eyes one response at a time."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wellpulse.common.http import Problem
from wellpulse.common.settings import ConfigurationError
from wellpulse.reporting.publication import last_shown_week, shown_through
from wellpulse.reporting.settings import ReportingSettings

days = st.dates(min_value=date(2020, 1, 1), max_value=date(2040, 12, 31))


@given(today=days, after=st.integers(min_value=0, max_value=28))
def test_the_latest_shown_week_is_over_by_the_delay_and_the_next_one_is_not(today: date, after: int) -> None:
    week = last_shown_week(today, after)
    assert week.weekday() == 0
    sunday = week + timedelta(days=6)
    assert (today - sunday).days > after  # over, and the delay has passed
    following_sunday = sunday + timedelta(days=7)
    assert (today - following_sunday).days <= after  # the next week is not shown yet


@given(today=days)
def test_the_week_in_progress_is_shown_only_when_asked_for(today: date) -> None:
    assert last_shown_week(today, 1, in_progress=True) == today - timedelta(days=today.weekday())
    assert last_shown_week(today, 1) < today - timedelta(days=today.weekday())


def test_a_week_is_shown_from_the_tuesday_after_it_by_default() -> None:
    # 2026-W48 runs Monday 23 to Sunday 29 November.
    assert last_shown_week(date(2026, 11, 30), 1) == date(2026, 11, 16)  # Monday after: not yet
    assert last_shown_week(date(2026, 12, 1), 1) == date(2026, 11, 23)  # Tuesday: shown


def test_a_week_not_shown_yet_is_refused_saying_from_when() -> None:
    with pytest.raises(Problem) as refused:
        shown_through("2026-W49", date(2026, 12, 1), 1)
    assert refused.value.status == 422
    assert "2026-W49 is shown from 2026-12-08" in refused.value.detail
    assert "latest week shown today is 2026-W48" in refused.value.detail
    assert shown_through("2026-W48", date(2026, 12, 1), 1) == date(2026, 11, 23)
    assert shown_through(None, date(2026, 12, 1), 1) == date(2026, 11, 23)
    assert shown_through("2026-W49", date(2026, 12, 1), 1, in_progress=True) == date(2026, 11, 30)


def test_the_week_in_progress_is_refused_outside_development() -> None:
    with pytest.raises(ConfigurationError, match="REPORTING_SHOW_WEEK_IN_PROGRESS is for development only"):
        ReportingSettings(show_week_in_progress=True, oidc_issuer="https://login.example.org")
    assert ReportingSettings(environment="development", show_week_in_progress=True).show_week_in_progress
    assert not ReportingSettings(environment="development").show_week_in_progress
