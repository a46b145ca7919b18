"""A unit's weekly trend: its subtree's rollups for a run of weeks, with small groups suppressed."""

from __future__ import annotations

from datetime import date, timedelta

from pydantic import BaseModel

from wellpulse.common.db import Database
from wellpulse.common.events import iso_week_of
from wellpulse.reporting import store
from wellpulse.reporting.measures import Figure, figures


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


async def unit_trend(database: Database, unit: store.UnitSummary, last: date, weeks: int, k: int) -> Trend:
    first = last - timedelta(weeks=weeks - 1)
    rollups = await store.subtree_rollups(database.pool, unit.unit_id, first, last)
    series = []
    for i in range(weeks):
        week = first + timedelta(weeks=i)
        respondents, shown = figures(rollups.get(week, []), k)
        series.append(
            WeekTrend(
                iso_week=iso_week_of(week),
                suppressed=respondents is None,
                respondents=respondents,
                response_rate=(
                    round(respondents / unit.headcount, 4) if respondents is not None and unit.headcount else None
                ),
                measures={m: _shown(f) for m, f in shown.items()},
            )
        )
    return Trend(unit_id=unit.unit_id, name=unit.name, headcount=unit.headcount, min_group_size=k, weeks=series)


def _shown(figure: Figure | None) -> ShownFigure | None:
    return ShownFigure(n=figure.n, mean=figure.mean, sd=figure.sd) if figure else None
