"""Pure: benchmarks for HSE scale means and the bands of the HSE Analysis Tool convention.

A benchmark is, per scale, the distribution of teams' means over a window: the organisation's own
teams (a live unit with no live children) or a loaded file. Only a team whose every contributing
week had at least ``k`` respondents to the scale is counted (k in people, as everywhere), and a
scale needs at least ``min_units`` such teams, or it has no benchmark at all: cut points taken
from two or three teams would be those teams' figures. Percentiles interpolate between ranks, so
a cut point is no single team's mean unless the teams' means coincide.

Bands (HSE Analysis Tool): red below the 20th percentile, yellow from the 20th to below the 50th,
aqua from the 50th to below the 80th, green from the 80th. Scores are 1–5 with higher better
(scoring has already reversed the items where agreeing is bad).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum


class Band(StrEnum):
    red = "red"
    yellow = "yellow"
    aqua = "aqua"
    green = "green"


@dataclass(frozen=True)
class Lines:
    """One scale's cut points: the 20th, 50th and 80th percentiles of the benchmark."""

    p20: float
    p50: float
    p80: float
    units: int | None = None  # how many teams the organisation's benchmark was taken over; None: a file

    def band(self, mean: float) -> Band:
        if mean < self.p20:
            return Band.red
        if mean < self.p50:
            return Band.yellow
        if mean < self.p80:
            return Band.aqua
        return Band.green


@dataclass(frozen=True)
class TeamWeek:
    """One team's sums for one scale in one week of the window."""

    unit_id: str
    scale: str
    n: int
    total: float


def percentile(values: Collection[float], percent: float) -> float:
    """Linear interpolation between closest ranks (as numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        raise ValueError("no values")
    if not 0 <= percent <= 100:
        raise ValueError("percent must be from 0 to 100")
    position = (len(ordered) - 1) * percent / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def team_means(rows: Iterable[TeamWeek], k: int) -> dict[str, list[float]]:
    """Per scale, the window means of the teams whose every contributing week had ≥ k respondents."""
    weekly: dict[tuple[str, str], list[TeamWeek]] = defaultdict(list)
    for row in rows:
        if row.n > 0:
            weekly[(row.unit_id, row.scale)].append(row)
    means: dict[str, list[float]] = defaultdict(list)
    for (_, scale), weeks in sorted(weekly.items()):
        if all(w.n >= k for w in weeks):
            means[scale].append(sum(w.total for w in weeks) / sum(w.n for w in weeks))
    return dict(means)


def percentile_lines(means: Mapping[str, Collection[float]], percent: float, min_units: int) -> dict[str, float]:
    """Per scale with at least ``min_units`` teams, the ``percent``-th percentile of their means."""
    return {scale: percentile(values, percent) for scale, values in means.items() if len(values) >= min_units}


def band_lines(means: Mapping[str, Collection[float]], min_units: int) -> dict[str, Lines]:
    """Per scale with at least ``min_units`` teams, its 20th, 50th and 80th percentiles."""
    return {
        scale: Lines(percentile(values, 20), percentile(values, 50), percentile(values, 80), len(values))
        for scale, values in means.items()
        if len(values) >= min_units
    }
