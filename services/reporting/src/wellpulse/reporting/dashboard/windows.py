"""Pure: the heatmap's and the 12 Changes' pages, from the API's own answers (``heatmap.Heatmap``,
``changes.ChangesView``), which disclosure control has already decided. As in ``views``, a page
only selects and lays out figures; it never computes one, so it shows nothing the API would not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wellpulse.common.benchmark import Band
from wellpulse.reporting.changes import ChangeScore, ChangesView
from wellpulse.reporting.dashboard.views import band_axis, suppressed_layer
from wellpulse.reporting.heatmap import BenchmarkLines, Heatmap, ScaleCell


@dataclass(frozen=True)
class HeatCell:
    scale: str
    cell: ScaleCell  # suppressed, or a mean with its band (None: no benchmark for the scale)


@dataclass(frozen=True)
class HeatRowView:
    unit_id: str
    name: str
    whole: bool
    headcount: int
    response_rate: float | None  # None: suppressed, or no headcount to divide by
    cells: list[HeatCell]  # in the page's scale order


@dataclass(frozen=True)
class HeatmapPage:
    map: Heatmap
    scales: list[str]
    rows: list[HeatRowView]  # the unit first (everything below it), then each child
    benchmark: list[tuple[str, BenchmarkLines | None]]
    bands: list[Band]  # the legend, worst first


def heatmap_page(map_: Heatmap) -> HeatmapPage:
    rows = [
        HeatRowView(
            row.unit_id,
            row.name,
            row.whole,
            row.headcount,
            row.response_rate,
            [HeatCell(s, row.cells[s]) for s in map_.scales],
        )
        for row in map_.rows
    ]
    benchmark = [(scale, map_.benchmark.scales.get(scale)) for scale in map_.scales]
    return HeatmapPage(map_, list(map_.scales), rows, benchmark, list(Band))


@dataclass(frozen=True)
class ChangeRow:
    change: str
    score: ChangeScore


@dataclass(frozen=True)
class ChangesPage:
    view: ChangesView
    changes: list[str]  # the API's order, for the table of units
    ranked: list[ChangeRow]  # the unit's own: most needed (lowest score) first, suppressed last
    units: list[tuple[str, str, bool, list[ChangeRow]]]  # (unit_id, name, whole, scores in ``changes`` order)
    option: dict[str, Any]  # ECharts' option for the unit's bar chart


@dataclass(frozen=True)
class ChangesText:
    names: dict[str, str]  # change -> its name in the page's language
    axis: str
    suppressed: str
    description: str


def changes_page(view: ChangesView, text: ChangesText) -> ChangesPage:
    """The unit's Changes ranked as the API ranks them (``most_needed``), then its children's."""
    whole = next(row for row in view.rows if row.whole)
    hidden = [c for c in view.changes if c not in whole.most_needed]
    ranked = [ChangeRow(c, whole.changes[c]) for c in [*whole.most_needed, *hidden]]
    units = [(r.unit_id, r.name, r.whole, [ChangeRow(c, r.changes[c]) for c in view.changes]) for r in view.rows]
    return ChangesPage(view, list(view.changes), ranked, units, changes_chart_option(ranked, text))


def changes_chart_option(ranked: list[ChangeRow], text: ChangesText) -> dict[str, Any]:
    """Horizontal bars, most needed on top; a suppressed change has no bar, and its row is shaded
    and labelled, so it never reads as a score of nothing (the suppressed come last, one run)."""
    names = [text.names[row.change] for row in ranked]
    hidden = [i for i, row in enumerate(ranked) if row.score.score is None]
    return {
        "animation": False,
        "aria": {"enabled": True, "label": {"description": text.description}},
        "grid": {"left": 8, "right": 24, "top": 32, "bottom": 8, "containLabel": True},
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}, "renderMode": "richText"},
        "xAxis": {"type": "value", "min": 1, "max": 5, "interval": 1, "name": text.axis, "axisLine": {"onZero": False}},
        "yAxis": [
            {"type": "category", "data": names, "inverse": True, "axisLabel": {"width": 160, "overflow": "break"}},
            band_axis(len(names), inverse=True),
        ],
        "series": [
            {
                "id": "score",
                "name": text.axis,
                "type": "bar",
                "data": [row.score.score for row in ranked],
                "barMaxWidth": 24,
            },
            suppressed_layer("yAxis", [(hidden[0], hidden[-1])] if hidden else [], text.suppressed),
        ],
    }
