"""Pure: until when a round's links take answers. A week's answers are in before reporting shows it.

Reporting shows a week once it is over and its responses are in (``REPORTING_PUBLISH_AFTER_DAYS``
after its Sunday): a response that arrived after that would move a figure leaders have already
read, and the difference would be that one response. So a link stops taking answers
``late_answer_days`` days after its week's Sunday (UTC), whether or not the round was closed; keep
that below reporting's ``PUBLISH_AFTER_DAYS``. The demo and the tests, which answer weeks gone by
to build a history, may take answers at any time; outside development that is refused.
"""

from __future__ import annotations

from datetime import date, timedelta

from wellpulse.common.events import monday_of


def last_answer_day(iso_week: str, late_answer_days: int) -> date:
    """The last day (UTC) a link of the round for ``iso_week`` takes an answer."""
    return monday_of(iso_week) + timedelta(days=6 + late_answer_days)


def takes_answers(iso_week: str, today: date, late_answer_days: int, past_weeks: bool = False) -> bool:
    return past_weeks or today <= last_answer_day(iso_week, late_answer_days)
