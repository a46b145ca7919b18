"""The dashboard's unit-detail page and the overview's scales against the benchmark, from made-up
API answers: each shows exactly the figures the answer holds (nothing computed, nothing for a
suppressed item), suppressed items are marked in words and shaded in the chart, every chart has a
captioned table, and the overview's bands are the heatmap's own row for the unit."""

from __future__ import annotations

import json
import re
from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from tests.unit.test_dashboard_pages import FRAME, SUPPRESSED, TREND, _pages, _read
from tests.unit.test_dashboard_windows import _heatmap
from wellpulse.common.bank import HseScale
from wellpulse.reporting.dashboard.detail import (
    DetailText,
    bands_view,
    detail_page,
    index_runs,
    items_chart_option,
)
from wellpulse.reporting.dashboard.views import overview_view
from wellpulse.reporting.items import ItemFigure, ItemsView

K = 5
TEXT = DetailText(
    scores={"1": "1 (worst)", "2": "2", "3": "3", "4": "4", "5": "5 (best)"},
    axis="Responses",
    suppressed=SUPPRESSED,
    descriptions={scale: f"{scale.value} chart" for scale in HseScale},
)


def _item(code: str, scale: str, distribution: dict[str, int] | None, mean: float | None = None) -> ItemFigure:
    return ItemFigure(
        code=code,
        text={"en": f"Question {code} <b>"},
        hse_scale=scale,
        changes=["workload"],
        suppressed=distribution is None,
        mean=mean if distribution is not None else None,
        responses=sum(distribution.values()) if distribution is not None else None,
        distribution=distribution,
    )


def _items(*figures: ItemFigure) -> ItemsView:
    return ItemsView(
        unit_id="dir",
        name="Directorate <A>",
        min_group_size=K,
        first_week="2026-W45",
        last_week="2026-W48",
        items=list(figures),
    )


ITEMS = _items(
    _item("DEM-01", "demands", {"1": 2, "2": 3, "3": 0, "4": 5, "5": 1}, 3.0),
    _item("DEM-02", "demands", None),
    _item("DEM-03", "demands", {"1": 0, "2": 0, "3": 4, "4": 4, "5": 3}, 3.9091),
    _item("CON-01", "control", None),
)


def test_each_scale_is_a_stacked_bar_per_item_of_the_apis_counts_with_suppressed_items_shaded() -> None:
    page = detail_page(ITEMS, _heatmap(), TEXT)
    assert [group.scale for group in page.scales] == [HseScale.DEMANDS, HseScale.CONTROL], "only scales with items"
    demands = page.scales[0]
    *bars, layer = demands.option["series"]
    categories, band = demands.option["yAxis"]
    assert categories["data"] == ["DEM-01", "DEM-02", "DEM-03"]
    assert [bar["name"] for bar in bars] == ["1 (worst)", "2", "3", "4", "5 (best)"]
    assert {bar["stack"] for bar in bars} == {"distribution"}
    assert [bar["data"] for bar in bars] == [[2, None, 0], [3, None, 0], [0, None, 4], [5, None, 4], [1, None, 3]]
    assert (band["min"], band["max"], band["inverse"], layer["yAxisIndex"]) == (-0.5, 2.5, True, 1)
    [(first, last)] = layer["markArea"]["data"]
    assert (first["yAxis"], last["yAxis"], first["name"]) == (0.5, 1.5, SUPPRESSED), "DEM-02's row, whole"
    assert demands.option["legend"]["data"] == [bar["name"] for bar in bars], "the shading is no score"
    control = page.scales[1]
    assert [bar["data"] for bar in control.option["series"][:5]] == [[None]] * 5
    assert "mean" not in json.dumps(demands.option), "the chart carries the distribution only"


def test_the_detail_page_lists_rates_and_children_with_links_and_marks_suppressed_items() -> None:
    page = detail_page(ITEMS, _heatmap(), TEXT)
    rendered = _pages().render("detail.html", view=page, weeks=4, week_choices=[1, 4], **FRAME | {"current": "detail"})
    tables = _read(rendered.body)
    assert tables.tables["units"] == [
        ("Unit", ["Headcount", "Response rate"]),
        ("Directorate <A> (all)", ["14", "57%"]),
        ("Big team", ["10", "60%"]),
        ("Small team", ["4", SUPPRESSED]),
    ]
    body = rendered.body.decode()
    assert '<a href="/dashboard/units/small/detail?weeks=4">Small team</a>' in body
    assert tables.tables["demands"] == [
        ("Question", ["Mean", "Responses", "1 (worst)", "2", "3", "4", "5 (best)"]),
        ("DEM-01 Question DEM-01 <b>", ["3.00", "11", "2", "3", "0", "5", "1"]),
        ("DEM-02 Question DEM-02 <b>", [SUPPRESSED]),
        ("DEM-03 Question DEM-03 <b>", ["3.91", "11", "0", "0", "4", "4", "3"]),
    ]
    assert tables.tables["control"][1:] == [("CON-01 Question CON-01 <b>", [SUPPRESSED])]
    assert tables.captions["demands"] == "Demands: each question's mean and responses per score"
    assert "Question DEM-01 &lt;b&gt;" in body, "item text is escaped"
    assert 'id="scale-demands"' in body, "the overview's scale links land on the scale"
    for group in page.scales:
        option = re.search(rf'<script type="application/json" id="{group.element_id}-option">(.*?)</script>', body)
        assert option, group.scale
        assert json.loads(option.group(1)) == group.option
    scripts = re.findall(r"<script([^>]*)>", body)
    assert all('type="application/json"' in s or 'src="/dashboard/static/' in s for s in scripts), scripts


def test_a_unit_without_children_says_so() -> None:
    map_ = _heatmap()
    alone = map_.model_copy(update={"rows": map_.rows[:1]})
    page = detail_page(ITEMS, alone, TEXT)
    body = _pages().render("detail.html", view=page, weeks=4, week_choices=[4], **FRAME).body.decode()
    assert "No unit is directly below this one." in body


@given(st.lists(st.booleans(), max_size=40))
def test_index_runs_cover_exactly_the_flagged_indexes_in_maximal_runs(flags: list[bool]) -> None:
    runs = index_runs(flags)
    covered = [i for first, last in runs for i in range(first, last + 1)]
    assert covered == [i for i, flag in enumerate(flags) if flag]
    assert all(first <= last for first, last in runs)
    assert all(b[0] > a[1] + 1 for a, b in pairwise(runs)), "runs never touch"


distributions = st.none() | st.fixed_dictionaries(
    {str(s): st.integers(min_value=0, max_value=300) for s in range(1, 6)}
)


@given(st.lists(distributions, min_size=1, max_size=8))
def test_an_items_chart_holds_nothing_but_the_apis_counts(given_distributions: list[dict[str, int] | None]) -> None:
    figures = [_item(f"DEM-{i:02d}", "demands", d, 3.0) for i, d in enumerate(given_distributions)]
    option = items_chart_option(figures, TEXT, HseScale.DEMANDS)
    *bars, layer = option["series"]
    for score, bar in zip("12345", bars, strict=True):
        assert bar["data"] == [d[score] if d is not None else None for d in given_distributions]
    shaded = {i for a, b in layer["markArea"]["data"] for i in range(int(a["yAxis"] + 0.5), int(b["yAxis"] + 0.5))}
    assert shaded == {i for i, d in enumerate(given_distributions) if d is None}


def test_the_overview_shows_each_scale_banded_in_words_as_the_heatmap_bands_the_unit() -> None:
    map_ = _heatmap()
    bands = bands_view(map_, 4)
    whole = map_.rows[0]
    assert [(b.scale, b.cell) for b in bands.scales] == [(s, whole.cells[s]) for s in map_.scales]
    page = _pages().render("overview.html", view=overview_view(TREND), bands=bands, **FRAME | {"current": "overview"})
    rows = dict(_read(page.body).tables["bands"])
    assert rows["Demands"] == ["3.50", "Aqua"]
    assert rows["Role"] == ["3.50", "no benchmark"]
    body = page.body.decode()
    assert '<a href="/dashboard/units/t1/detail?weeks=4#scale-demands">Demands</a>' in body
    assert "the organisation&#39;s teams" in body, "says what the bands are against"
    small = map_.rows[2].model_copy(update={"whole": True})
    hidden = bands_view(map_.model_copy(update={"rows": [small]}), 4)
    page = _pages().render("overview.html", view=overview_view(TREND), bands=hidden, **FRAME)
    assert [cells for _, cells in _read(page.body).tables["bands"][1:]] == [[SUPPRESSED]] * 7
