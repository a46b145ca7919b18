"""What every window view of a unit reads: the unit, its children, and the cells disclosure
control lets them show over a window of weeks (one ``common.cells.decide`` for all of them, so a
view's rows can be set against each other and against any trend without giving a group away)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, timedelta

import asyncpg

from wellpulse.common.cells import Fragment, ShownCells, decide
from wellpulse.common.events import iso_week_of
from wellpulse.common.measures import RESPONSES
from wellpulse.common.rollups import SubtreeRollups
from wellpulse.reporting import store
from wellpulse.reporting.measures import Figure, window_figure


@dataclass(frozen=True)
class Row:
    unit_id: str
    name: str
    headcount: int
    whole: bool  # the unit asked about (everything below it), not one of its children


@dataclass(frozen=True)
class Around:
    unit: store.UnitSummary
    weeks: tuple[date, ...]
    rows: tuple[Row, ...]
    fragment: Fragment
    shown: ShownCells

    @property
    def first_week(self) -> str:
        return iso_week_of(self.weeks[0])

    @property
    def last_week(self) -> str:
        return iso_week_of(self.weeks[-1])

    _figures: dict[tuple[str, str], Figure | None] = field(default_factory=dict, compare=False, repr=False)

    def figure(self, unit: str, measure: str) -> Figure | None:
        """The unit's figure over the window, or None where it may not be shown (worked out once)."""
        key = (unit, measure)
        if key not in self._figures:
            self._figures[key] = window_figure(self.fragment, self.shown, unit, self.weeks, measure)
        return self._figures[key]

    def response_rate(self, row: Row) -> float | None:
        """Responses over the window per person per week, where the responses may be shown."""
        responses = self.figure(row.unit_id, RESPONSES)
        if responses is None or not row.headcount:
            return None
        return round(responses.n / (row.headcount * len(self.weeks)), 4)


def window(last: date, weeks: int) -> tuple[date, ...]:
    return tuple(last - timedelta(weeks=i) for i in reversed(range(weeks)))


async def around(
    pool: asyncpg.Pool,
    rollups: SubtreeRollups,
    unit: store.UnitSummary,
    weeks: tuple[date, ...],
    measures: Collection[str],
    k: int,
) -> Around:
    children = await store.children(pool, unit.unit_id)
    chain = (await rollups.chains(pool, [unit.unit_id]))[unit.unit_id]
    fragment, shown = await decide(pool, rollups, [*chain, *children], weeks, {RESPONSES, *measures}, k)
    rows = [Row(unit.unit_id, unit.name, unit.headcount, True)] + [
        Row(c, fragment.names.get(c, c), fragment.headcounts.get(c, 0), False) for c in children
    ]
    return Around(unit, weeks, tuple(rows), fragment, shown)
