"""The 12 Changes view: scores grouped by the change from the social workers' wellbeing toolkit
that each item informs (the question bank's tags), for a unit and each of its children, so a
leader sees which Changes their units most need.

A change's score is the plain mean of its items' window means, over the items whose figure may be
shown (``Around.figure``): a function of shown figures only, so it gives nothing away that they do
not. Items rotate, so a change may rest on fewer items some windows: the view says how many.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from statistics import fmean

import asyncpg
from pydantic import BaseModel, Field

from wellpulse.common.bank import Change, QuestionBank
from wellpulse.common.csvfile import Cell
from wellpulse.common.measures import item_measure
from wellpulse.common.rollups import SubtreeRollups
from wellpulse.reporting import store
from wellpulse.reporting.around import Around, around, window


def items_by_change(bank: QuestionBank) -> dict[str, list[str]]:
    """The scored items (those on an HSE scale, 1–5 with higher better) informing each change."""
    found: dict[str, list[str]] = {c.value: [] for c in Change}
    for item in bank.items:
        if item.hse_scale is not None:
            for change in item.changes:
                found[change.value].append(item.code)
    return found


def measures(bank: QuestionBank) -> set[str]:
    return {item_measure(code) for codes in items_by_change(bank).values() for code in codes}


class ChangeScore(BaseModel):
    suppressed: bool = Field(description="No item of this change may be shown for the unit over the window")
    score: float | None = Field(description="Mean of the shown items' means, 1–5, higher is better")
    items_shown: int
    items: int = Field(description="Scored items in the bank that inform this change")


class ChangesRow(BaseModel):
    unit_id: str
    name: str
    whole: bool
    changes: dict[str, ChangeScore]
    most_needed: list[str] = Field(description="The changes with a score, lowest (most needed) first")


class ChangesView(BaseModel):
    unit_id: str
    name: str
    min_group_size: int
    first_week: str
    last_week: str
    changes: list[str]
    rows: list[ChangesRow]


async def unit_changes(
    pool: asyncpg.Pool,
    rollups: SubtreeRollups,
    bank: QuestionBank,
    unit: store.UnitSummary,
    last: date,
    weeks: int,
    k: int,
) -> ChangesView:
    """The 12 Changes over ``weeks`` weeks up to ``last``: what the API and the dashboard both show."""
    view = await around(pool, rollups, unit, window(last, weeks), measures(bank), k)
    return changes_view(view, bank, k)


def changes_view(view: Around, bank: QuestionBank, k: int) -> ChangesView:
    grouped = items_by_change(bank)
    rows = []
    for row in view.rows:
        scores = {}
        for change, codes in grouped.items():
            means = [f.mean for code in codes if (f := view.figure(row.unit_id, item_measure(code)))]
            scores[change] = ChangeScore(
                suppressed=not means,
                score=round(fmean(means), 4) if means else None,
                items_shown=len(means),
                items=len(codes),
            )
        ranked = sorted((s.score, c) for c, s in scores.items() if s.score is not None)
        rows.append(
            ChangesRow(
                unit_id=row.unit_id,
                name=row.name,
                whole=row.whole,
                changes=scores,
                most_needed=[c for _, c in ranked],
            )
        )
    return ChangesView(
        unit_id=view.unit.unit_id,
        name=view.unit.name,
        min_group_size=k,
        first_week=view.first_week,
        last_week=view.last_week,
        changes=list(grouped),
        rows=rows,
    )


CSV_HEADER = ["unit_id", "unit", "whole", "change", "score", "items_shown", "items"]


def csv_rows(view: ChangesView) -> Iterator[Sequence[Cell]]:
    for row in view.rows:
        for change, score in row.changes.items():
            figure: Cell = "suppressed" if score.suppressed else score.score
            yield [row.unit_id, row.name, row.whole, change, figure, score.items_shown, score.items]
