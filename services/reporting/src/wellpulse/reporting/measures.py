"""Pure: how rollups become shown figures (what a response contributes is ``common.measures``).

Suppression lives here: no count, mean or rate is shown for fewer than ``k`` respondents.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from wellpulse.common.measures import RESPONSES


@dataclass(frozen=True)
class Rollup:
    measure: str
    n: int
    total: float
    total_sq: float


@dataclass(frozen=True)
class Figure:
    n: int
    mean: float
    sd: float | None


def figures(rollups: Iterable[Rollup], k: int) -> tuple[int | None, dict[str, Figure | None]]:
    """Respondents and each measure's figure for one week of one subtree.

    Below ``k`` respondents the week shows nothing at all (None); a measure answered by fewer than
    ``k`` (items rotate, people skip) is shown as None while the others stay visible.
    """
    by_measure = {r.measure: r for r in rollups}
    responses = by_measure.pop(RESPONSES, None)
    respondents = responses.n if responses else 0
    if respondents < k:
        return None, {}
    shown: dict[str, Figure | None] = {}
    for measure, r in sorted(by_measure.items()):
        shown[measure] = _figure(r) if r.n >= k else None
    return respondents, shown


def _figure(r: Rollup) -> Figure:
    mean = r.total / r.n
    # Sample standard deviation from the sums; clamp the rounding error that can dip below zero.
    sd = math.sqrt(max(r.total_sq - r.n * mean * mean, 0.0) / (r.n - 1)) if r.n > 1 else None
    return Figure(r.n, round(mean, 4), round(sd, 4) if sd is not None else None)
