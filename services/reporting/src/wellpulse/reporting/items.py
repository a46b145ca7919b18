"""Item distributions: for a unit and everything below it over a window, each scored item's mean
and how many responses gave it each score from 1 to 5.

An item's distribution is shown exactly where its mean is (``Around.figure``: every week of the
window that has answers to it is a shown cell), and is the sum of those weeks' distributions. Its
counts add up to the shown responses, so one unit's distribution minus another's rests on the
same differences disclosure control already guards for the item's own cell, never on a smaller
group. The counts are of responses, not people: one person answering four weeks counts four times.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import date

import asyncpg
from pydantic import BaseModel, Field

from wellpulse.common.bank import QuestionBank
from wellpulse.common.csvfile import Cell
from wellpulse.common.measures import SCORES, answer_measure, item_measure
from wellpulse.common.rollups import Key, SubtreeRollups, Sums
from wellpulse.reporting import store
from wellpulse.reporting.around import Around, around, window


def scored_items(bank: QuestionBank) -> list[str]:
    """The items a response is scored on (an HSE scale, 1–5 with higher better), in bank order."""
    return [item.code for item in bank.items if item.hse_scale is not None]


def measures(bank: QuestionBank) -> set[str]:
    return {item_measure(code) for code in scored_items(bank)}


def answer_measures(codes: Collection[str]) -> list[str]:
    return [answer_measure(code, score) for code in codes for score in SCORES]


class ItemFigure(BaseModel):
    code: str
    text: dict[str, str] = Field(description="The item as staff read it, per language")
    hse_scale: str
    changes: list[str]
    suppressed: bool = Field(description="Not shown: too few people, or it would give a smaller group away")
    mean: float | None = Field(description="1–5 after reverse-scoring, higher is better")
    responses: int | None = Field(description="Responses over the window (not people: one a person a week)")
    distribution: dict[str, int] | None = Field(
        description="Responses per score, '1' to '5' (after reverse-scoring); they add up to responses"
    )


class ItemsView(BaseModel):
    unit_id: str
    name: str
    min_group_size: int
    first_week: str
    last_week: str
    items: list[ItemFigure]


async def unit_items(
    pool: asyncpg.Pool,
    rollups: SubtreeRollups,
    bank: QuestionBank,
    unit: store.UnitSummary,
    last: date,
    weeks: int,
    k: int,
) -> ItemsView:
    """The items of ``weeks`` weeks up to ``last``: what the API and the dashboard both show."""
    days = window(last, weeks)
    view = await around(pool, rollups, unit, days, measures(bank), k)
    answers = await rollups.read(pool, [unit.unit_id], days[0], days[-1], answer_measures(scored_items(bank)))
    return items_view(view, answers, bank, k)


def items_view(view: Around, answers: Mapping[Key, Sums], bank: QuestionBank, k: int) -> ItemsView:
    """``answers``: the unit's ``answer:`` rows over the window's weeks (subtree sums)."""
    unit = view.unit.unit_id
    figures = []
    for code in scored_items(bank):
        item = bank.item(code)
        assert item.hse_scale is not None
        shown = view.figure(unit, item_measure(code))
        distribution = None
        if shown is not None:
            distribution = {
                str(score): sum(answers.get((unit, week, answer_measure(code, score)), Sums()).n for week in view.weeks)
                for score in SCORES
            }
        figures.append(
            ItemFigure(
                code=code,
                text={str(language): text for language, text in item.text.items()},
                hse_scale=item.hse_scale.value,
                changes=[c.value for c in item.changes],
                suppressed=shown is None,
                mean=shown.mean if shown else None,
                responses=shown.n if shown else None,
                distribution=distribution,
            )
        )
    return ItemsView(
        unit_id=unit,
        name=view.unit.name,
        min_group_size=k,
        first_week=view.first_week,
        last_week=view.last_week,
        items=figures,
    )


CSV_HEADER = ["unit_id", "unit", "item", "hse_scale", "mean", "responses", *(f"score_{s}" for s in SCORES)]


def csv_rows(view: ItemsView) -> Iterator[Sequence[Cell]]:
    """One line per item; a suppressed item says so in place of every figure."""
    for item in view.items:
        figures: list[Cell] = (
            ["suppressed"] * (2 + len(SCORES))
            if item.suppressed or item.distribution is None
            else [item.mean, item.responses, *(item.distribution[str(s)] for s in SCORES)]
        )
        yield [view.unit_id, view.name, item.code, item.hse_scale, *figures]
