"""The dashboard's views and templates, from made-up trends: a page shows exactly the figures the
trend allows (nothing computed, nothing for a suppressed cell), marks suppressed weeks in tables
and as labelled gaps in charts, and each chart has a real table with a caption beside it."""

from __future__ import annotations

import json
import re
from functools import cache
from html.parser import HTMLParser
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from wellpulse.common.auth import Principal, Role
from wellpulse.common.bank import HseScale
from wellpulse.common.measures import scale_measure
from wellpulse.reporting.alert_counts import AlertCounts, FamilyCounts
from wellpulse.reporting.dashboard.detail import BandsView, bands_view
from wellpulse.reporting.dashboard.render import CSP, Pages
from wellpulse.reporting.dashboard.static import StaticFiles
from wellpulse.reporting.dashboard.views import (
    CellState,
    ChartText,
    alerts_view,
    overview_view,
    suppressed_runs,
    trends_view,
)
from wellpulse.reporting.store import ScopeUnit
from wellpulse.reporting.trends import ShownFigure, Trend, WeekTrend

K = 5
SUPPRESSED = "suppressed (fewer than 5)"
DEMANDS, CONTROL = scale_measure("demands"), scale_measure("control")


def _week(n: int, *, suppressed: bool = False, **measures: ShownFigure | None) -> WeekTrend:
    if suppressed:
        return WeekTrend(iso_week=f"2026-W{n:02d}", suppressed=True, respondents=None, response_rate=None, measures={})
    return WeekTrend(
        iso_week=f"2026-W{n:02d}",
        suppressed=False,
        respondents=11,
        response_rate=0.4583,
        measures={f"scale:{k}": v for k, v in measures.items()},
    )


def _trend(*weeks: WeekTrend) -> Trend:
    return Trend(unit_id="t1", name="Team <One>", headcount=24, min_group_size=K, weeks=list(weeks))


def _figure(mean: float, n: int = 11) -> ShownFigure:
    return ShownFigure(n=n, mean=mean, sd=0.7)


TREND = _trend(
    _week(44, suppressed=True),
    _week(45, demands=_figure(3.25), control=None),
    _week(46, suppressed=True),
    _week(47, suppressed=True),
    _week(48, demands=_figure(2.5, 9)),
)
TEXT = {scale: ChartText(scale.value, "Mean (1–5)", SUPPRESSED, f"{scale.value} chart") for scale in HseScale}


def test_the_overview_shows_the_latest_shown_figure_of_each_scale_and_why_others_have_none() -> None:
    view = overview_view(TREND)
    assert [r.iso_week for r in view.rates] == ["2026-W48", "2026-W47", "2026-W46", "2026-W45", "2026-W44"]
    latest = {s.scale: s for s in view.scales}
    assert [s.scale for s in view.scales] == list(HseScale)
    assert (latest[HseScale.DEMANDS].iso_week, latest[HseScale.DEMANDS].cell.figure) == ("2026-W48", _figure(2.5, 9))
    assert latest[HseScale.CONTROL].cell.state is CellState.suppressed, "hidden in W45, not asked since"
    assert latest[HseScale.CONTROL].iso_week is None
    assert latest[HseScale.ROLE].cell.state is CellState.suppressed, "whole weeks were suppressed"
    never = overview_view(_trend(_week(45, demands=_figure(3.0))))
    assert {s.scale: s.cell.state for s in never.scales}[HseScale.ROLE] is CellState.not_asked


def test_a_chart_draws_shown_means_and_leaves_labelled_gaps_for_suppressed_weeks() -> None:
    view = trends_view(TREND, TEXT)
    demands = next(c for c in view.charts if c.scale is HseScale.DEMANDS)
    series, layer = demands.option["series"]
    weeks, band = demands.option["xAxis"]
    assert weeks["data"] == ["2026-W44", "2026-W45", "2026-W46", "2026-W47", "2026-W48"]
    assert series["data"] == [None, 3.25, None, None, 2.5]
    assert series["connectNulls"] is False
    # Shaded whole weeks on the hidden axis laid over the weeks (week i from i - 0.5 to i + 0.5),
    # so one suppressed week is a band as wide as the week, not a line of no width.
    assert (band["min"], band["max"], band["show"], layer["xAxisIndex"], layer["data"]) == (-0.5, 4.5, False, 1, [])
    areas = layer["markArea"]["data"]
    assert [(a["xAxis"], b["xAxis"]) for a, b in areas] == [(-0.5, 0.5), (1.5, 3.5)]
    assert {a["name"] for a, _ in areas} == {SUPPRESSED}
    assert layer["tooltip"] == {"show": False}
    control = next(c for c in view.charts if c.scale is HseScale.CONTROL)
    assert [r.cell.state for r in control.rows] == [
        CellState.suppressed,
        CellState.suppressed,  # the week was shown, this measure in it was not
        CellState.suppressed,
        CellState.suppressed,
        CellState.not_asked,
    ]


figures = st.builds(
    ShownFigure,
    n=st.integers(min_value=K, max_value=500),
    mean=st.floats(min_value=1, max_value=5, allow_nan=False).map(lambda x: round(x, 4)),
    sd=st.none() | st.floats(min_value=0, max_value=2, allow_nan=False),
)


@st.composite
def trends(draw: st.DrawFn) -> Trend:
    weeks = []
    for n in range(1, draw(st.integers(min_value=1, max_value=30)) + 1):
        if draw(st.booleans()):
            weeks.append(_week(n, suppressed=True))
        else:
            scales = draw(st.dictionaries(st.sampled_from([s.value for s in HseScale]), st.none() | figures))
            weeks.append(_week(n, **scales))
    return _trend(*weeks)


@given(trends())
def test_a_chart_holds_nothing_but_the_trends_shown_means(trend: Trend) -> None:
    for chart in trends_view(trend, TEXT).charts:
        data = chart.option["series"][0]["data"]
        measure = scale_measure(chart.scale.value)
        expected = [
            (w.measures.get(measure).mean if w.measures.get(measure) is not None else None)  # type: ignore[union-attr]
            for w in trend.weeks
        ]
        assert data == expected
        suppressed = {r.iso_week for r in chart.rows if r.cell.state is CellState.suppressed}
        covered = set()
        weeks = [w.iso_week for w in trend.weeks]
        for first, last in suppressed_runs(chart.rows):
            covered |= set(weeks[weeks.index(first) : weeks.index(last) + 1])
        assert covered == suppressed
        # No count of people travels to the browser in a chart: only means and week names.
        assert "respondents" not in json.dumps(chart.option)


class Table(HTMLParser):
    """Rows of every table: (week or scale, [cell texts]), read as a screen reader would."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[tuple[str, list[str]]]] = {}
        self.captions: dict[str, str] = {}
        self._table: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._hidden = 0
        self._caption: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table":
            self._table = found.get("id") or found.get("data-scale") or "?"
            self.tables[self._table] = []
        elif tag == "caption":
            self._caption = []
        elif tag == "tr" and self._table:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        if found.get("aria-hidden") == "true":
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._table:
            self.tables[self._table].append((self._row[0], self._row[1:]))
            self._row = None
        elif tag == "caption" and self._caption is not None and self._table:
            self.captions[self._table] = "".join(self._caption).strip()
            self._caption = None
        elif tag == "table":
            self._table = None
        elif tag == "span" and self._hidden:
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if self._hidden:
            return
        if self._cell is not None:
            self._cell.append(data)
        if self._caption is not None:
            self._caption.append(data)


@cache
def _pages() -> Pages:
    return Pages(k=K, static=StaticFiles())


ALERTS = AlertCounts(
    unit_id="dir",
    name="Dir",
    first_week="2026-W43",
    last_week="2026-W48",
    families={
        "bullying": FamilyCounts(open=1, acknowledged=0, raised=2),
        "caseload": FamilyCounts(open=0, acknowledged=1, raised=1),
        "intent_to_leave": FamilyCounts(open=0, acknowledged=0, raised=0),
        "sustained_decline": FamilyCounts(open=2, acknowledged=0, raised=2),
    },
)


FRAME: dict[str, Any] = {
    "alerts": ALERTS,
    "alert_rows": alerts_view(ALERTS),
    "signed_in": True,
    "principal": Principal("pat", frozenset({Role.leader}), ("t1",)),
    "csrf_token": "token-for-this-session",
    "unit_id": "t1",
    "unit_name": "Team <One>",
    "current": "trends",
    "sections": [{"key": "trends", "title": "nav_trends", "url": "/dashboard/units/t1/trends", "current": True}],
    "scope": [ScopeUnit("dir", "Directorate", 0), ScopeUnit("t1", "Team <One>", 1)],
}


def _bands() -> BandsView:
    from tests.unit.test_dashboard_windows import _heatmap  # that module builds on this one's helpers

    return bands_view(_heatmap(), 4)


def _read(body: bytes) -> Table:
    parser = Table()
    parser.feed(body.decode())
    return parser


def test_the_trends_page_puts_a_captioned_table_beside_each_chart_with_suppressed_weeks_marked() -> None:
    page = _pages().render("trends.html", view=trends_view(TREND, TEXT), weeks=5, week_choices=[5, 6], **FRAME)
    body = page.body.decode()
    tables = _read(page.body)
    assert set(tables.tables) == {s.value for s in HseScale}
    assert tables.captions["demands"] == "Demands: mean per ISO week (1 to 5, higher is better)"
    assert tables.tables["demands"] == [
        ("Week", ["Mean", "Responses"]),
        ("2026-W44", [SUPPRESSED]),
        ("2026-W45", ["3.25", "11"]),
        ("2026-W46", [SUPPRESSED]),
        ("2026-W47", [SUPPRESSED]),
        ("2026-W48", ["2.50", "9"]),
    ]
    assert tables.tables["control"][2] == ("2026-W45", [SUPPRESSED])
    assert tables.tables["control"][5] == ("2026-W48", ["not asked"])
    for scale in HseScale:
        option = re.search(rf'<script type="application/json" id="chart-{scale.value}-option">(.*?)</script>', body)
        assert option, scale
        assert json.loads(option.group(1)) == trends_view(TREND, TEXT).charts[list(HseScale).index(scale)].option
    # Only scripts served by reporting itself, and no inline script anywhere.
    scripts = re.findall(r"<script([^>]*)>", body)
    assert all('type="application/json"' in s or 'src="/dashboard/static/' in s for s in scripts), scripts
    assert page.headers["Content-Security-Policy"] == CSP
    assert "script-src 'self'" in CSP
    assert "Team &lt;One&gt;" in body, "names are escaped"


def test_the_overview_marks_suppressed_weeks_without_any_count() -> None:
    page = _pages().render(
        "overview.html", view=overview_view(TREND), bands=_bands(), **FRAME | {"current": "overview"}
    )
    tables = _read(page.body)
    assert tables.tables["rates"] == [
        ("Week", ["Respondents", "Response rate"]),
        ("2026-W48", ["11", "46%"]),
        ("2026-W47", [SUPPRESSED]),
        ("2026-W46", [SUPPRESSED]),
        ("2026-W45", ["11", "46%"]),
        ("2026-W44", [SUPPRESSED]),
    ]
    scales = dict(tables.tables["scales"])
    assert scales["Demands"] == ["2.50", "2026-W48", "9"]
    assert scales["Control"] == [SUPPRESSED]
    # Alerts by family, as the API counts them; a rule's own family by its name.
    assert tables.tables["alerts"] == [
        ("Family", ["Open", "Acknowledged", "Raised in these weeks"]),
        ("Bullying, harassment or discrimination", ["1", "0", "2"]),
        ("Caseload", ["0", "1", "1"]),
        ("Intent to leave", ["0", "0", "0"]),
        ("sustained_decline", ["2", "0", "2"]),
    ]


def test_every_page_carries_the_sign_out_form_with_its_csrf_token_and_the_scope_picker() -> None:
    body = _pages().render("overview.html", view=overview_view(TREND), bands=_bands(), **FRAME).body.decode()
    form = re.search(r'<form method="post" action="/dashboard/sign-out">(.*?)</form>', body, re.S)
    assert form
    assert '<input type="hidden" name="csrf_token" value="token-for-this-session">' in form.group(1)
    picker = re.search(r'<select id="unit-picker" name="unit">(.*?)</select>', body, re.S)
    assert picker
    assert re.findall(r'<option value="([^"]+)"', picker.group(1)) == ["dir", "t1"]
    assert '<label for="unit-picker">' in body
