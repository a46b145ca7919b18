"""An alert's lifecycle: one live alert per unit and rule, a cooldown after resolution counted in
ISO weeks, and open → acknowledged → resolved with a note, after which nothing moves it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wellpulse.alerts.lifecycle import Action, Decision, InvalidTransition, Latest, Status, on_condition, transition

MONDAY = date(2026, 11, 2)
WEDNESDAY = date(2026, 11, 4)  # the same ISO week
SUNDAY = date(2026, 11, 8)  # the same ISO week, its last day


def resolved(on: date | None) -> Latest:
    return Latest("alert-1", Status.resolved, on)


def test_no_earlier_alert_raises_one() -> None:
    assert on_condition(None, MONDAY, cooldown_weeks=2) is Decision.raise_new


@pytest.mark.parametrize("status", [Status.open, Status.acknowledged])
@pytest.mark.parametrize("weeks_later", [0, 1, 2, 30])
def test_a_live_alert_is_updated_never_raised_again(status: Status, weeks_later: int) -> None:
    latest = Latest("alert-1", status)
    assert on_condition(latest, MONDAY + timedelta(weeks=weeks_later), cooldown_weeks=2) is Decision.update


@pytest.mark.parametrize(
    ("window_end", "decision"),
    [
        (MONDAY, Decision.cooling),  # the week it was resolved
        (MONDAY + timedelta(weeks=1), Decision.cooling),
        # Twelve days after a Wednesday resolution, but two weeks after that week's Monday.
        (MONDAY + timedelta(weeks=2), Decision.raise_new),
        (MONDAY + timedelta(weeks=3), Decision.raise_new),
        (MONDAY + timedelta(weeks=40), Decision.raise_new),
    ],
)
def test_a_resolved_alert_cools_for_the_cooldown_counted_from_its_week(window_end: date, decision: Decision) -> None:
    assert on_condition(resolved(WEDNESDAY), window_end, cooldown_weeks=2) is decision


@pytest.mark.parametrize("day", [MONDAY, WEDNESDAY, SUNDAY])
def test_any_day_of_the_resolution_week_counts_from_its_monday(day: date) -> None:
    assert on_condition(resolved(day), MONDAY + timedelta(weeks=1), cooldown_weeks=2) is Decision.cooling
    assert on_condition(resolved(day), MONDAY + timedelta(weeks=2), cooldown_weeks=2) is Decision.raise_new


def test_a_resolution_on_a_sunday_is_not_counted_from_the_next_week() -> None:
    # Resolved on Sunday 8 November; the next Monday (9th) begins a week, not the cooldown.
    assert on_condition(resolved(SUNDAY), date(2026, 11, 16), cooldown_weeks=2) is Decision.raise_new


def test_no_cooldown_raises_again_at_once() -> None:
    assert on_condition(resolved(WEDNESDAY), MONDAY, cooldown_weeks=0) is Decision.raise_new


def test_a_resolved_alert_without_a_date_counts_as_resolved_this_week() -> None:
    assert on_condition(resolved(None), MONDAY, cooldown_weeks=1) is Decision.cooling
    assert on_condition(resolved(None), MONDAY, cooldown_weeks=0) is Decision.raise_new


@given(
    resolved_on=st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)),
    weeks_later=st.integers(min_value=0, max_value=60),
    cooldown=st.integers(min_value=0, max_value=52),
)
def test_the_cooldown_is_whole_iso_weeks_after_the_resolution_week(
    resolved_on: date, weeks_later: int, cooldown: int
) -> None:
    iso_year, iso_week, _ = resolved_on.isocalendar()
    window_end = date.fromisocalendar(iso_year, iso_week, 1) + timedelta(weeks=weeks_later)
    expected = Decision.raise_new if weeks_later >= cooldown else Decision.cooling
    assert on_condition(resolved(resolved_on), window_end, cooldown) is expected


# --- transitions --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "action", "note", "after"),
    [
        (Status.open, Action.acknowledge, None, Status.acknowledged),
        (Status.open, Action.resolve, "Caseloads reallocated.", Status.resolved),
        (Status.acknowledged, Action.resolve, "Stay conversations held.", Status.resolved),
    ],
)
def test_allowed_transitions(status: Status, action: Action, note: str | None, after: Status) -> None:
    assert transition(status, action, note) is after


@pytest.mark.parametrize(
    ("status", "action", "note", "says"),
    [
        (Status.acknowledged, Action.acknowledge, None, "only an open alert can be acknowledged"),
        (Status.resolved, Action.acknowledge, None, "only an open alert can be acknowledged"),
        (Status.resolved, Action.resolve, "Again.", "already resolved"),
        (Status.open, Action.resolve, None, "needs a note"),
        (Status.open, Action.resolve, "", "needs a note"),
        (Status.open, Action.resolve, "   \n\t ", "needs a note"),
        (Status.acknowledged, Action.resolve, None, "needs a note"),
        (Status.acknowledged, Action.resolve, " ", "needs a note"),
    ],
)
def test_invalid_transitions_say_why(status: Status, action: Action, note: str | None, says: str) -> None:
    with pytest.raises(InvalidTransition, match=says):
        transition(status, action, note)


def test_the_refusal_names_the_current_status() -> None:
    with pytest.raises(InvalidTransition, match="the alert is acknowledged"):
        transition(Status.acknowledged, Action.acknowledge, None)


ORDER = [Status.open, Status.acknowledged, Status.resolved]
notes = st.one_of(st.none(), st.text(max_size=8), st.sampled_from(["", " ", "\t\n", "done"]))


@given(
    start=st.sampled_from(Status),
    steps=st.lists(st.tuples(st.sampled_from(Action), notes), max_size=12),
)
def test_once_resolved_nothing_moves_it(start: Status, steps: list[tuple[Action, str | None]]) -> None:
    status, was_resolved = start, start is Status.resolved
    for action, note in steps:
        try:
            after = transition(status, action, note)
        except InvalidTransition:
            after = status
        else:
            # Only a resolve with a real note ends an alert; nothing leaves a resolved one.
            assert status is not Status.resolved
            if after is Status.resolved:
                assert action is Action.resolve
                assert note is not None
                assert note.strip()
        assert ORDER.index(after) >= ORDER.index(status)  # never back to an earlier status
        if was_resolved:
            assert after is Status.resolved
        status, was_resolved = after, was_resolved or after is Status.resolved
