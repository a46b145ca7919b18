"""Pure: what each dashboard page shows, from a use case's answer (today the ``Trend``, which
disclosure control has already decided). A view selects and lays out figures; it never computes
one, so a page can show nothing the API would not.

Every cell is one of three things: a figure, ``suppressed`` (disclosure control hid it) or
``not asked`` (no answers that week: items rotate). Charts get the same: a value or a gap.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from wellpulse.common.bank import AlertFamily, HseScale
from wellpulse.common.measures import scale_measure
from wellpulse.reporting.alert_counts import AlertCounts, FamilyCounts
from wellpulse.reporting.trends import ShownFigure, Trend, WeekTrend


class CellState(StrEnum):
    shown = "shown"
    suppressed = "suppressed"
    not_asked = "not_asked"


@dataclass(frozen=True)
class Cell:
    state: CellState
    figure: ShownFigure | None = None

    @classmethod
    def of(cls, week: WeekTrend, measure: str) -> Cell:
        if week.suppressed:
            return cls(CellState.suppressed)
        if measure not in week.measures:
            return cls(CellState.not_asked)
        figure = week.measures[measure]
        return cls(CellState.shown, figure) if figure is not None else cls(CellState.suppressed)


@dataclass(frozen=True)
class RateRow:
    iso_week: str
    suppressed: bool
    respondents: int | None
    response_rate: float | None


@dataclass(frozen=True)
class LatestScale:
    scale: HseScale
    cell: Cell  # the latest shown figure, else why there is none
    iso_week: str | None  # the week of that figure


@dataclass(frozen=True)
class OverviewView:
    trend: Trend
    rates: list[RateRow]
    scales: list[LatestScale]


def overview_view(trend: Trend) -> OverviewView:
    """Response rate week by week, newest first, and each HSE scale's latest figure that may be shown."""
    rates = [RateRow(w.iso_week, w.suppressed, w.respondents, w.response_rate) for w in reversed(trend.weeks)]
    return OverviewView(trend, rates, [_latest(trend, scale) for scale in HseScale])


def _latest(trend: Trend, scale: HseScale) -> LatestScale:
    cells = [(week.iso_week, Cell.of(week, scale_measure(scale.value))) for week in reversed(trend.weeks)]
    for iso_week, cell in cells:
        if cell.state is CellState.shown:
            return LatestScale(scale, cell, iso_week)
    hidden = any(cell.state is CellState.suppressed for _, cell in cells)
    return LatestScale(scale, Cell(CellState.suppressed if hidden else CellState.not_asked), None)


@dataclass(frozen=True)
class ScaleRow:
    iso_week: str
    cell: Cell


@dataclass(frozen=True)
class ScaleChart:
    scale: HseScale
    element_id: str
    rows: list[ScaleRow]  # oldest first, as the chart reads
    option: dict[str, Any]  # ECharts' option, handed to the page as JSON


@dataclass(frozen=True)
class TrendsView:
    trend: Trend
    charts: list[ScaleChart]


@dataclass(frozen=True)
class ChartText:
    """The words a chart carries, in the page's language."""

    name: str  # the scale
    axis: str  # what the y axis measures
    suppressed: str  # the label over a suppressed stretch, e.g. "suppressed (fewer than 5)"
    description: str  # what a screen reader hears for the whole chart


def trends_view(trend: Trend, text: dict[HseScale, ChartText]) -> TrendsView:
    """A line chart and its data table per HSE scale, over the trend's weeks."""
    charts = []
    for scale in HseScale:
        rows = [ScaleRow(week.iso_week, Cell.of(week, scale_measure(scale.value))) for week in trend.weeks]
        charts.append(ScaleChart(scale, f"chart-{scale.value}", rows, scale_chart_option(rows, text[scale])))
    return TrendsView(trend, charts)


def scale_chart_option(rows: list[ScaleRow], text: ChartText) -> dict[str, Any]:
    """A line of the shown means, with a gap for every week without one and each run of suppressed
    weeks shaded and labelled, so a gap that hides a group reads differently from one nobody answered."""
    weeks = [row.iso_week for row in rows]
    data = [row.cell.figure.mean if row.cell.figure is not None else None for row in rows]
    runs = [(weeks.index(first), weeks.index(last)) for first, last in suppressed_runs(rows)]
    return {
        "animation": False,
        "aria": {"enabled": True, "label": {"description": text.description}},
        "grid": {"left": 8, "right": 16, "top": 32, "bottom": 8, "containLabel": True},
        "tooltip": {"trigger": "axis", "renderMode": "richText"},
        "xAxis": [
            {"type": "category", "data": weeks, "boundaryGap": True, "axisLabel": {"hideOverlap": True}},
            band_axis(len(weeks)),
        ],
        "yAxis": {
            "type": "value",
            "min": 1,
            "max": 5,
            "interval": 1,
            "name": text.axis,
            "nameTextStyle": {"align": "left"},
            "axisLine": {"onZero": False},
        },
        "series": [
            {
                "id": "mean",
                "name": text.name,
                "type": "line",
                "data": data,
                "connectNulls": False,
                "showSymbol": True,
                "symbolSize": 8,
                "lineStyle": {"width": 3},
            },
            suppressed_layer("xAxis", runs, text.suppressed),
        ],
    }


def band_axis(categories: int, *, inverse: bool = False) -> dict[str, Any]:
    """A hidden value axis laid over a category axis, category ``i`` spanning ``i - 0.5`` to
    ``i + 0.5``: ECharts' marks on a category axis reach only from one category's middle to
    another's, so a shaded run of one category would have no width at all."""
    return {"type": "value", "min": -0.5, "max": categories - 0.5, "show": False, "inverse": inverse}


def suppressed_layer(axis: str, runs: list[tuple[int, int]], label: str) -> dict[str, Any]:
    """A series without data on the ``band_axis`` (index 1 of ``axis``), shading each run
    (first, last category index) whole and labelling it: a figure hidden, not a figure of nothing."""
    return {
        "id": "suppressed",
        "name": label,
        "type": "line",
        f"{axis}Index": 1,
        "data": [],
        "silent": True,
        "tooltip": {"show": False},
        "markArea": {
            "silent": True,
            "itemStyle": {"color": "rgba(107, 107, 107, 0.16)"},
            "label": {"color": "#3b3b3b", "position": "insideTop" if axis == "xAxis" else "insideLeft"},
            "data": [[{"name": label, axis: first - 0.5}, {axis: last + 0.5}] for first, last in runs],
        },
    }


def suppressed_runs(rows: list[ScaleRow]) -> list[tuple[str, str]]:
    """(first, last) week of each run of consecutive suppressed weeks."""
    runs: list[tuple[str, str]] = []
    start: str | None = None
    previous: str | None = None
    for row in rows:
        if row.cell.state is CellState.suppressed:
            start = start or row.iso_week
        elif start is not None and previous is not None:
            runs.append((start, previous))
            start = None
        previous = row.iso_week
    if start is not None and previous is not None:
        runs.append((start, previous))
    return runs


@dataclass(frozen=True)
class AlertFamilyRow:
    family: str
    message: str | None  # the message naming it; None: a rule's own family, shown by its name
    counts: FamilyCounts


def alerts_view(counts: AlertCounts) -> list[AlertFamilyRow]:
    """The overview's alerts table: the API's counts, family by family, in its order."""
    known = {f.value for f in AlertFamily}
    return [AlertFamilyRow(f, f"family_{f}" if f in known else None, c) for f, c in counts.families.items()]
