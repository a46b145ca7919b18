"""Pure: until when a round's links take answers. A week's answers are in before reporting shows it.

Reporting shows a week once it is over and its responses are in (``REPORTING_PUBLISH_AFTER_DAYS``
after its Sunday): a response that arrived after that would move a figure leaders have already
read, and the difference would be that one response. So a link stops taking answers
``late_answer_days`` days after its week's Sunday (UTC), whether or not the round was closed; keep
that below reporting's ``PUBLISH_AFTER_DAYS``. A round is opened only for a week whose links would
take answers (``refuse_opening``): one opened for a week gone by would mint links that answer as
closed. The demo and the tests, which answer weeks gone by to build a history, may open and answer
any week; outside development that is refused.
"""

from __future__ import annotations

from datetime import date, timedelta

from wellpulse.common.events import iso_week_of, monday_of


def last_answer_day(iso_week: str, late_answer_days: int) -> date:
    """The last day (UTC) a link of the round for ``iso_week`` takes an answer."""
    return monday_of(iso_week) + timedelta(days=6 + late_answer_days)


def takes_answers(iso_week: str, today: date, late_answer_days: int, past_weeks: bool = False) -> bool:
    return past_weeks or today <= last_answer_day(iso_week, late_answer_days)


def first_week_taking_answers(today: date, late_answer_days: int) -> str:
    """The earliest ISO week whose links still take answers ``today``: this week, or an earlier one
    while its late days run."""
    week = monday_of(iso_week_of(today))
    while takes_answers(iso_week_of(week - timedelta(weeks=1)), today, late_answer_days):
        week -= timedelta(weeks=1)
    return iso_week_of(week)


def refuse_opening(iso_week: str, today: date, late_answer_days: int, past_weeks: bool = False) -> str | None:
    """Why a round for ``iso_week`` may not be opened ``today`` (its links would take no answers),
    in words an admin can act on; None when it may."""
    if takes_answers(iso_week, today, late_answer_days, past_weeks):
        return None
    return (
        f"{iso_week} is over: a link takes answers until {late_answer_days} day(s) after its week's Sunday "
        f"(INTAKE_LATE_ANSWER_DAYS), so its links took answers until {last_answer_day(iso_week, late_answer_days)} "
        f"and would take none now. A round can be opened for {first_week_taking_answers(today, late_answer_days)} "
        "or any later week."
    )
