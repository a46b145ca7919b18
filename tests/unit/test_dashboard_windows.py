"""The dashboard's heatmap and 12 Changes pages, from made-up API answers: each shows exactly the
figures the answer holds (nothing computed, nothing for a suppressed cell), in the API's ranking,
with suppressed cells marked in words and a captioned table beside the chart."""

from __future__ import annotations

import json
import re

from hypothesis import given
from hypothesis import strategies as st

from tests.unit.test_dashboard_pages import FRAME, SUPPRESSED, _pages, _read
from wellpulse.common.bank import Change
from wellpulse.common.benchmark import Band
from wellpulse.reporting.changes import ChangeScore, ChangesRow, ChangesView
from wellpulse.reporting.dashboard.windows import ChangesText, changes_page, heatmap_page
from wellpulse.reporting.heatmap import SCALES, BenchmarkLines, BenchmarkOut, Heatmap, HeatRow, ScaleCell

K = 5
CHANGES = [c.value for c in Change]
TEXT = ChangesText({c: f"name of {c}" for c in CHANGES}, "Score (1–5)", SUPPRESSED, "the chart")
HIDDEN = ScaleCell(suppressed=True, mean=None, responses=None, band=None)


def _shown(mean: float, band: Band | None) -> ScaleCell:
    return ScaleCell(suppressed=False, mean=mean, responses=40, band=band)


def _heatmap() -> Heatmap:
    lines = BenchmarkLines(p20=2.8, p50=3.3, p80=3.9, units=12)
    return Heatmap(
        unit_id="dir",
        name="Directorate <A>",
        min_group_size=K,
        first_week="2026-W45",
        last_week="2026-W48",
        scales=SCALES,
        benchmark=BenchmarkOut(
            source="organisation",
            name="the organisation's teams",
            scales={s: (lines if s != "role" else None) for s in SCALES},
        ),
        rows=[
            HeatRow(
                unit_id="dir",
                name="Directorate <A>",
                headcount=14,
                whole=True,
                response_rate=0.5714,
                cells={s: _shown(3.5, Band.aqua if s != "role" else None) for s in SCALES},
            ),
            HeatRow(
                unit_id="big",
                name="Big team",
                headcount=10,
                whole=False,
                response_rate=0.6,
                cells={s: _shown(2.25, Band.red) if s == "demands" else HIDDEN for s in SCALES},
            ),
            HeatRow(
                unit_id="small",
                name="Small team",
                headcount=4,
                whole=False,
                response_rate=None,
                cells=dict.fromkeys(SCALES, HIDDEN),
            ),
        ],
    )


def test_the_heatmap_page_is_a_table_of_bands_in_words_with_suppressed_cells_marked() -> None:
    map_ = _heatmap()
    page = _pages().render("heatmap.html", view=heatmap_page(map_), weeks=4, week_choices=[1, 4], **FRAME)
    tables = _read(page.body)
    rows = dict(tables.tables["heatmap"])
    assert rows["Directorate <A> (all)"] == ["3.50 Aqua"] * 5 + ["3.50 no benchmark", "3.50 Aqua", "57%"] + [
        "Detail of Directorate <A>"
    ]
    assert rows["Big team"] == ["2.25 Red"] + [SUPPRESSED] * 6 + ["60%", "Detail of Big team"]
    assert rows["Small team"] == [SUPPRESSED] * 8 + ["Detail of Small team"], "the rate too: the API gives none"
    assert (
        tables.captions["heatmap"]
        == "Mean of each scale per unit, 2026-W45 to 2026-W48, with its band against the benchmark"
    )
    body = page.body.decode()
    assert body.count('class="suppressed"') == 6 + 8
    assert '<a href="/dashboard/units/small/heatmap">Small team</a>' in body
    assert '<a href="/dashboard/units/small/detail?weeks=4">Detail of Small team</a>' in body, "same window"
    assert dict(tables.tables["benchmark"])["Role"] == ["too few teams to benchmark this scale"]
    assert dict(tables.tables["benchmark"])["Demands"] == ["2.80", "3.30", "3.90"]
    assert "<script" not in body.replace('<script src="/dashboard/static/', ""), "no script: the table is the map"


def _score(score: float | None, shown: int = 2) -> ChangeScore:
    return ChangeScore(suppressed=score is None, score=score, items_shown=shown if score else 0, items=3)


def _changes(scores: dict[str, float | None]) -> ChangesView:
    whole = {c: _score(scores.get(c)) for c in CHANGES}
    ranked = sorted((s.score, c) for c, s in whole.items() if s.score is not None)
    return ChangesView(
        unit_id="dir",
        name="Directorate",
        min_group_size=K,
        first_week="2026-W45",
        last_week="2026-W48",
        changes=CHANGES,
        rows=[
            ChangesRow(
                unit_id="dir", name="Directorate", whole=True, changes=whole, most_needed=[c for _, c in ranked]
            ),
            ChangesRow(
                unit_id="small",
                name="Small team",
                whole=False,
                changes={c: _score(None) for c in CHANGES},
                most_needed=[],
            ),
        ],
    )


scores = st.dictionaries(
    st.sampled_from(CHANGES), st.floats(min_value=1, max_value=5, allow_nan=False).map(lambda x: round(x, 4))
)


@given(scores)
def test_the_changes_chart_draws_the_apis_scores_most_needed_first_and_shades_the_suppressed(
    given_scores: dict[str, float],
) -> None:
    view = _changes(given_scores)
    page = changes_page(view, TEXT)
    whole = view.rows[0]
    assert [r.change for r in page.ranked] == [*whole.most_needed, *(c for c in CHANGES if c not in given_scores)]
    series, layer = page.option["series"]
    categories, band = page.option["yAxis"]
    assert categories["data"] == [TEXT.names[r.change] for r in page.ranked]
    assert (band["min"], band["max"], band["inverse"], layer["yAxisIndex"]) == (-0.5, 11.5, True, 1)
    assert series["data"] == [given_scores.get(r.change) for r in page.ranked]
    areas = layer["markArea"]["data"]
    if len(given_scores) < len(CHANGES):
        [(first, last)] = areas  # the suppressed come last, whole rows shaded
        assert (first["yAxis"], last["yAxis"], first["name"]) == (len(whole.most_needed) - 0.5, 11.5, SUPPRESSED)
    else:
        assert areas == []
    assert "items" not in json.dumps(page.option), "only scores travel to the chart"


def test_the_changes_page_puts_a_captioned_table_beside_the_chart_and_marks_suppressed_scores() -> None:
    view = _changes({"workload": 2.1, "cpd": 3.4, "leadership": 2.9})
    page = _pages().render("changes.html", view=changes_page(view, TEXT), weeks=4, week_choices=[4], **FRAME)
    tables = _read(page.body)
    ranked = tables.tables["ranked"]
    assert ranked[0] == ("Change", ["Score", "Questions shown"])
    assert ranked[1:4] == [
        ("Manageable workloads", ["2.10", "2 of 3"]),
        ("Effective leadership", ["2.90", "2 of 3"]),
        ("Professional development", ["3.40", "2 of 3"]),
    ]
    assert all(cells == [SUPPRESSED] for _, cells in ranked[4:])
    assert len(ranked) == 13
    assert dict(tables.tables["changes-by-unit"])["Small team"] == [SUPPRESSED] * 12
    body = page.body.decode()
    option = re.search(r'<script type="application/json" id="chart-changes-option">(.*?)</script>', body)
    assert option
    assert json.loads(option.group(1)) == changes_page(view, TEXT).option
