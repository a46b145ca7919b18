"""A unit's weekly trend: its subtree's rollups for a run of weeks, each cell shown only where
the shared disclosure control lets it (at least k people, and no smaller group given away by
difference with the units above and beside it)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import date, timedelta

from pydantic import BaseModel

from wellpulse.common.cells import decide
from wellpulse.common.csvfile import Cell
from wellpulse.common.db import Database
from wellpulse.common.events import iso_week_of
from wellpulse.common.measures import ANSWER_PREFIX, RESPONSES
from wellpulse.common.rollups import SubtreeRollups, Sums
from wellpulse.reporting import store
from wellpulse.reporting.measures import Figure, week_figures


class ShownFigure(BaseModel):
    n: int
    mean: float
    sd: float | None


class WeekTrend(BaseModel):
    iso_week: str
    suppressed: bool
    respondents: int | None
    response_rate: float | None
    measures: dict[str, ShownFigure | None]


class Trend(BaseModel):
    unit_id: str
    name: str
    headcount: int
    min_group_size: int
    weeks: list[WeekTrend]


async def unit_trend(
    database: Database, rollups: SubtreeRollups, unit: store.UnitSummary, last: date, weeks: int, k: int
) -> Trend:
    days = [last - timedelta(weeks=i) for i in reversed(range(weeks))]
    pool = database.pool
    # Each item's 1-5 distribution is the items view's: a trend of per-score counts would be five
    # more cells an item, each a disclosure decision (bench/reporting.py: 4x the CPU).
    cells = await rollups.read(pool, [unit.unit_id], days[0], days[-1], except_prefix=ANSWER_PREFIX)
    by_week: dict[date, dict[str, Sums]] = defaultdict(dict)
    for (_, week, measure), sums in cells.items():
        by_week[week][measure] = sums
    chain = (await rollups.chains(pool, [unit.unit_id]))[unit.unit_id]
    measures = {RESPONSES} | {m for week in by_week.values() for m in week}
    _, shown = await decide(pool, rollups, chain, days, measures, k, focus=[unit.unit_id])
    series = []
    for week in days:
        visible = {m for m in measures if unit.unit_id in shown.get((week, m), frozenset())}
        respondents, figures = week_figures(by_week.get(week, {}), visible)
        series.append(
            WeekTrend(
                iso_week=iso_week_of(week),
                suppressed=respondents is None,
                respondents=respondents,
                response_rate=(
                    round(respondents / unit.headcount, 4) if respondents is not None and unit.headcount else None
                ),
                measures={m: _shown(f) for m, f in figures.items()},
            )
        )
    return Trend(unit_id=unit.unit_id, name=unit.name, headcount=unit.headcount, min_group_size=k, weeks=series)


def _shown(figure: Figure | None) -> ShownFigure | None:
    return ShownFigure(n=figure.n, mean=figure.mean, sd=figure.sd) if figure else None


CSV_HEADER = ["unit_id", "unit", "iso_week", "respondents", "response_rate", "measure", "n", "mean", "sd"]


def csv_rows(trend: Trend) -> Iterator[Sequence[Cell]]:
    """One line per week and measure; a suppressed week is one line that says so."""
    for week in trend.weeks:
        if week.suppressed:
            yield [trend.unit_id, trend.name, week.iso_week, "suppressed", None, None, None, None, None]
            continue
        for measure, shown in week.measures.items():
            figures: list[Cell] = ["suppressed"] * 3 if shown is None else [shown.n, shown.mean, shown.sd]
            yield [trend.unit_id, trend.name, week.iso_week, week.respondents, week.response_rate, measure, *figures]
