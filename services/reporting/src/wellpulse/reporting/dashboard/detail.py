"""Pure: the unit-detail page and the overview's scales against the benchmark, from the API's own
answers (``items.ItemsView``, ``heatmap.Heatmap``), which disclosure control has already decided.
As in ``views``, a page only selects and lays out figures; it never computes one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wellpulse.common.bank import HseScale
from wellpulse.common.benchmark import Band
from wellpulse.common.measures import SCORES
from wellpulse.reporting.dashboard.views import band_axis, suppressed_layer
from wellpulse.reporting.heatmap import Heatmap, HeatRow, ScaleCell
from wellpulse.reporting.items import ItemFigure, ItemsView

# Worst (1) to best (5): a diverging palette told apart without red/green, each score also named.
SCORE_COLOURS = ("#b2182b", "#ef8a62", "#bababa", "#67a9cf", "#2166ac")


@dataclass(frozen=True)
class ScaleItems:
    scale: HseScale
    element_id: str
    items: list[ItemFigure]  # bank order
    option: dict[str, Any]  # ECharts' option: a stacked bar per item


@dataclass(frozen=True)
class RateRow:
    unit_id: str
    name: str
    whole: bool
    headcount: int
    response_rate: float | None  # None: suppressed, or no headcount to divide by


@dataclass(frozen=True)
class DetailPage:
    items: ItemsView
    scales: list[ScaleItems]  # the scales the bank has scored items for, in HseScale order
    rates: list[RateRow]  # the unit (everything below it), then each child
    scores: list[str]  # '1' to '5', the distribution's columns


@dataclass(frozen=True)
class DetailText:
    """The words the page's charts carry, in the page's language."""

    scores: dict[str, str]  # '1'..'5' -> the series' name, e.g. "1 (worst)"
    axis: str  # what the x axis counts
    suppressed: str
    descriptions: dict[HseScale, str]  # what a screen reader hears for each scale's chart


def detail_page(items: ItemsView, map_: Heatmap, text: DetailText) -> DetailPage:
    """Each scale's items as a chart and a table, and the response rates of the unit and its
    children (the heatmap's, for the same window: one answer for the rate wherever it is shown)."""
    scales = []
    for scale in HseScale:
        figures = [item for item in items.items if item.hse_scale == scale.value]
        if figures:
            element_id = f"chart-items-{scale.value}"
            scales.append(ScaleItems(scale, element_id, figures, items_chart_option(figures, text, scale)))
    rates = [RateRow(r.unit_id, r.name, r.whole, r.headcount, r.response_rate) for r in map_.rows]
    return DetailPage(items, scales, rates, [str(s) for s in SCORES])


def items_chart_option(figures: list[ItemFigure], text: DetailText, scale: HseScale) -> dict[str, Any]:
    """Horizontal bars, one per item, stacked by score 1 to 5 (responses giving it); a suppressed
    item has no bar, and its row is shaded and labelled, so it never reads as nobody answering."""
    hidden = [item.distribution is None for item in figures]
    names = [text.scores[s] for s in map(str, SCORES)]
    return {
        "animation": False,
        "aria": {"enabled": True, "label": {"description": text.descriptions[scale]}},
        "color": list(SCORE_COLOURS),
        "legend": {"top": 0, "left": 0, "data": names, "selectedMode": False},
        "grid": {"left": 8, "right": 24, "top": 40, "bottom": 8, "containLabel": True},
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}, "renderMode": "richText"},
        "xAxis": {"type": "value", "minInterval": 1, "name": text.axis, "nameLocation": "middle", "nameGap": 24},
        "yAxis": [
            {"type": "category", "data": [item.code for item in figures], "inverse": True},
            band_axis(len(figures), inverse=True),
        ],
        "series": [
            *(
                {
                    "id": f"score-{score}",
                    "name": name,
                    "type": "bar",
                    "stack": "distribution",
                    "data": [item.distribution[score] if item.distribution else None for item in figures],
                    "barMaxWidth": 32,
                }
                for score, name in zip(map(str, SCORES), names, strict=True)
            ),
            suppressed_layer("yAxis", index_runs(hidden), text.suppressed),
        ],
    }


def index_runs(flags: list[bool]) -> list[tuple[int, int]]:
    """(first, last) index of each run of consecutive true flags."""
    runs: list[tuple[int, int]] = []
    for i, flag in enumerate(flags):
        if not flag:
            continue
        if runs and runs[-1][1] == i - 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


@dataclass(frozen=True)
class ScaleBand:
    scale: str
    cell: ScaleCell  # suppressed, or a mean with its band (None: no benchmark for the scale)


@dataclass(frozen=True)
class BandsView:
    map: Heatmap
    weeks: int  # the window's length, for links to the same window's detail
    scales: list[ScaleBand]  # the heatmap's scale order
    bands: list[Band]  # the legend, worst first


def bands_view(map_: Heatmap, weeks: int) -> BandsView:
    """The overview's scales against the benchmark: the heatmap's own row for the unit, as is."""
    whole: HeatRow = next(row for row in map_.rows if row.whole)
    return BandsView(map_, weeks, [ScaleBand(s, whole.cells[s]) for s in map_.scales], list(Band))
