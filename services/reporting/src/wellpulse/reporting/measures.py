"""Pure: rollups as the figures reporting shows (a week of a trend, a window of a heatmap), once
disclosure control (``common.disclosure``, through ``common.cells``) has said which cells may be shown."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from wellpulse.common.cells import Fragment, ShownCells
from wellpulse.common.disclosure import shown_over
from wellpulse.common.events import ResponseScored
from wellpulse.common.measures import RESPONSES, answer_measures_of, measures_of
from wellpulse.common.rollups import Sums


def reporting_measures(scored: ResponseScored) -> Iterator[tuple[str, float]]:
    """What reporting keeps of one response: the shared measures and each item's distribution."""
    yield from measures_of(scored)
    yield from answer_measures_of(scored)


@dataclass(frozen=True)
class Figure:
    n: int
    mean: float
    sd: float | None


def week_figures(sums: Mapping[str, Sums], shown: Collection[str]) -> tuple[int | None, dict[str, Figure | None]]:
    """Respondents and each measure's figure for one week of one unit's subtree.

    ``shown``: the measures whose cell may be shown. Unless the respondents' cell is, the week
    shows nothing at all (None); a measure whose cell is not shown (too few answered it, or it
    would give a smaller group away) is None while the others stay visible.
    """
    responses = sums.get(RESPONSES)
    if responses is None or RESPONSES not in shown:
        return None, {}
    figures: dict[str, Figure | None] = {}
    for measure, cell in sorted(sums.items()):
        if measure != RESPONSES:
            figures[measure] = figure(cell) if measure in shown and cell.n else None
    return responses.n, figures


def figure(cell: Sums) -> Figure:
    mean = cell.total / cell.n
    # Sample standard deviation from the sums; clamp the rounding error that can dip below zero.
    sd = math.sqrt(max(cell.total_sq - cell.n * mean * mean, 0.0) / (cell.n - 1)) if cell.n > 1 else None
    return Figure(cell.n, round(mean, 4), round(sd, 4) if sd is not None else None)


def window_figure(
    fragment: Fragment, shown: ShownCells, unit: str, weeks: Sequence[date], measure: str
) -> Figure | None:
    """One unit's figure for a measure over several weeks, or None where it may not be shown.

    Shown only where, in every week the unit has answers to it, the measure's cell and the
    respondents' cell are both shown (``common.disclosure.window_shown``): a window is then a sum
    of shown weeks, and one window minus another only ever subtracts shown weeks. Its n counts
    responses, not people: one person answering four weeks is four responses.
    """
    if not (_shown(fragment, shown, unit, weeks, measure) and _shown(fragment, shown, unit, weeks, RESPONSES)):
        return None
    total = sum((fragment.sums.get((unit, w, measure), Sums()) for w in weeks), Sums())
    return figure(total) if total.n else None


def _shown(fragment: Fragment, shown: ShownCells, unit: str, weeks: Sequence[date], measure: str) -> bool:
    def shown_in(week: date) -> frozenset[str]:
        return shown.get((week, measure), frozenset())

    return shown_over(unit, weeks, shown_in, lambda week: fragment.count(unit, week, measure))
