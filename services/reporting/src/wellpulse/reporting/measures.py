"""Pure: one unit's week of rollups as the figures a trend shows, once disclosure control
(``common.disclosure``, through ``common.cells``) has said which of its cells may be shown."""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from wellpulse.common.measures import RESPONSES
from wellpulse.common.rollups import Sums


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
