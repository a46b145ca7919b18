"""Pure: which weeks reporting shows. A week is shown once it is over and its last responses are in.

A figure shown while its week's responses still arrive changes one response at a time: read it,
wait for one more response, read it again, and the difference is that one person's answers. So a
week is shown only from ``publish_after_days`` days after its Sunday, when its round has closed
(the weekly schedule closes last week's round on Monday) and its figures no longer move. The demo
and the tests, which look at the week they have just answered, may show the week in progress;
outside development that is refused at start-up.
"""

from __future__ import annotations

from datetime import date, timedelta

from wellpulse.common.events import iso_week_of, monday_of
from wellpulse.common.http import Problem


def last_shown_week(today: date, publish_after_days: int, in_progress: bool = False) -> date:
    """The Monday of the latest week whose figures may be shown on ``today``."""
    if in_progress:
        return today - timedelta(days=today.weekday())
    # Week m (Monday m to Sunday m + 6) is shown from day m + 7 + publish_after_days.
    cut = today - timedelta(days=7 + publish_after_days)
    return cut - timedelta(days=cut.weekday())


def first_shown_day(week: date, publish_after_days: int) -> date:
    return week + timedelta(days=7 + publish_after_days)


def shown_through(to_week: str | None, today: date, publish_after_days: int, in_progress: bool = False) -> date:
    """The last week a view covers: ``to_week`` if it may be shown, the latest shown week if none
    was asked for; a problem (422) saying from when, for a week not shown yet."""
    latest = last_shown_week(today, publish_after_days, in_progress)
    if to_week is None:
        return latest
    asked = monday_of(to_week)
    if asked > latest:
        raise Problem(
            422,
            "That week is not shown yet",
            f"{to_week} is shown from {first_shown_day(asked, publish_after_days).isoformat()}, once it is over and "
            f"its responses are in (figures that still move would give each new response away). The latest "
            f"week shown today is {iso_week_of(latest)}.",
            latest_week=iso_week_of(latest),
        )
    return asked
