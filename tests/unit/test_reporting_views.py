"""Reporting's window views, pure: a directorate of three teams (one below k) over a window of
weeks, decided by the shared disclosure control, as a heatmap and as the 12 Changes; the CSV
export; and the benchmark file."""

from __future__ import annotations

import uuid
from datetime import date
from pathlib import Path

import pytest

from wellpulse.common.bank import Change, load_bank
from wellpulse.common.benchmark import Lines
from wellpulse.common.cells import Fragment, shown_cells
from wellpulse.common.csvfile import csv_text, safe_cell
from wellpulse.common.disclosure import OrgTree
from wellpulse.common.events import AlertFamilies, ResponseScored
from wellpulse.common.measures import RESPONSES, answer_measure, item_measure, scale_measure
from wellpulse.common.rollups import Sums
from wellpulse.common.settings import ConfigurationError
from wellpulse.reporting import changes, heatmap, items
from wellpulse.reporting.around import Around, Row
from wellpulse.reporting.benchmarks import Benchmark, load_benchmark_file
from wellpulse.reporting.measures import reporting_measures, window_figure
from wellpulse.reporting.store import UnitSummary

K = 5
WEEKS = (date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 16))
BANK = load_bank()


def _sums(values: list[float]) -> Sums:
    return Sums(len(values), sum(values), sum(v * v for v in values))


def _fragment(people: dict[str, list[int]], score: dict[str, float], parents: dict[str, str | None]) -> Fragment:
    """``people[unit]``: respondents of each week in the unit's own members; every one of them gives
    the unit's ``score`` to every measure. Subtree sums are built up the tree."""
    sums: dict[tuple[str, date, str], Sums] = {}
    tree = OrgTree(parents)
    measures = [RESPONSES, scale_measure("demands"), item_measure("DEM-01")]
    for unit, weekly in people.items():
        for week, n in zip(WEEKS, weekly, strict=True):
            for measure in measures:
                value = 1.0 if measure == RESPONSES else score[unit]
                for above in tree.chain(unit):
                    key = (above, week, measure)
                    sums[key] = sums.get(key, Sums()) + _sums([value] * n)
    return Fragment(tree, sums, frozenset(parents), {u: 10 for u in parents}, {u: u.title() for u in parents})


PARENTS: dict[str, str | None] = {"dir": None, "a": "dir", "b": "dir", "tiny": "dir"}


def _around(people: dict[str, list[int]], score: dict[str, float]) -> Around:
    fragment = _fragment(people, score, PARENTS)
    measures = {RESPONSES, scale_measure("demands"), item_measure("DEM-01")}
    shown = shown_cells(fragment, K, WEEKS, measures, set(PARENTS))
    rows = tuple(Row(u, u.title(), 10, u == "dir") for u in PARENTS)
    return Around(UnitSummary("dir", "Dir", 40), WEEKS, rows, fragment, shown)


def test_a_window_is_shown_only_where_every_week_it_draws_on_is() -> None:
    view = _around({"a": [6, 6, 6], "b": [9, 0, 8], "tiny": [3, 3, 3]}, {"a": 2.0, "b": 4.0, "tiny": 1.0})
    demands = scale_measure("demands")
    # dir − a − b = tiny every week: with a and b both shown, tiny would be given away, so the
    # smaller of them (a) is hidden each week; in week 2 b has nobody, so a is hidden then too.
    assert view.figure("a", demands) is None
    shown_b = view.figure("b", demands)
    assert shown_b is not None
    assert (shown_b.n, shown_b.mean) == (17, 4.0)  # weeks 1 and 3; week 2 had no answers from b
    assert view.figure("tiny", demands) is None
    whole = view.figure("dir", demands)
    assert whole is not None
    assert whole.n == 18 + 9 + 17
    # One week's hole in a team that answers: the whole window is suppressed, not a partial sum.
    holed = _around({"a": [6, 3, 6], "b": [9, 9, 8], "tiny": [0, 0, 0]}, {"a": 2.0, "b": 4.0, "tiny": 1.0})
    assert holed.figure("a", demands) is None
    # ...and that week the directorate minus b would be a's three: b goes for the window as well.
    assert window_figure(holed.fragment, holed.shown, "b", WEEKS, demands) is None
    whole = holed.figure("dir", demands)
    assert whole is not None
    assert whole.n == 15 + 12 + 14


def test_the_heatmap_bands_shown_cells_and_marks_the_rest_suppressed() -> None:
    view = _around({"a": [6, 6, 6], "b": [9, 7, 8], "tiny": [3, 3, 3]}, {"a": 2.0, "b": 4.5, "tiny": 1.0})
    bench = Benchmark("file", "national", {"demands": Lines(3.0, 3.5, 4.0)})
    answer = heatmap.heatmap(view, bench, K)
    rows = {r.unit_id: r for r in answer.rows}

    assert [r.unit_id for r in answer.rows] == ["dir", "a", "b", "tiny"]
    assert rows["b"].cells["demands"].band == "green"
    assert rows["b"].cells["demands"].responses == 24
    assert rows["a"].cells["demands"].suppressed
    assert rows["tiny"].cells["demands"].model_dump() == {
        "suppressed": True,
        "mean": None,
        "responses": None,
        "band": None,
    }
    assert rows["tiny"].response_rate is None
    assert rows["b"].response_rate == round(24 / (10 * 3), 4)
    # A scale with no answers and no benchmark: suppressed, and no band to speak of.
    assert rows["b"].cells["control"].suppressed
    assert answer.benchmark.scales["control"] is None
    exported = list(heatmap.csv_rows(answer))
    assert ["tiny", "Tiny", False, 10, None, "demands", "suppressed", "suppressed", "suppressed"] in exported
    assert ["b", "B", False, 10, 0.8, "demands", 4.5, 24, "green"] in exported


def test_the_12_changes_average_the_shown_items_of_each_change_lowest_first() -> None:
    view = _around({"a": [6, 6, 6], "b": [9, 7, 8], "tiny": [3, 3, 3]}, {"a": 2.0, "b": 3.25, "tiny": 1.0})
    answer = changes.changes_view(view, BANK, K)
    rows = {r.unit_id: r for r in answer.rows}
    informing = {c.value for c in BANK.item("DEM-01").changes}

    assert answer.changes == [c.value for c in Change]
    for change, score in rows["b"].changes.items():
        assert score.items == len(changes.items_by_change(BANK)[change])
        if change in informing:  # DEM-01 is the one item the fragment holds answers to
            assert (score.score, score.items_shown, score.suppressed) == (3.25, 1, False)
        else:
            assert (score.score, score.items_shown, score.suppressed) == (None, 0, True)
    assert sorted(rows["b"].most_needed) == sorted(informing)
    assert all(s.suppressed for s in rows["tiny"].changes.values())
    assert all(s.suppressed for s in rows["a"].changes.values())


def test_every_change_is_informed_by_some_scored_item_of_the_default_bank() -> None:
    grouped = changes.items_by_change(BANK)
    assert set(grouped) == {c.value for c in Change}
    for codes in grouped.values():
        assert all(BANK.item(code).hse_scale is not None for code in codes)


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=SUM(A1:A9)", "'=SUM(A1:A9)"),
        ("+44 20", "'+44 20"),
        ("-1+1", "'-1+1"),
        ("@cmd", "'@cmd"),
        ("\tTab", "'\tTab"),
        ("\rCR", "'\rCR"),
        ("Team A", "Team A"),
        ("", ""),
        (None, ""),
        (-0.25, -0.25),
        (3, 3),
        (True, "true"),
    ],
)
def test_a_cell_a_spreadsheet_would_run_is_written_as_text(value: str | float | None, written: object) -> None:
    assert safe_cell(value) == written


def test_a_csv_export_has_a_header_and_quotes_what_needs_it() -> None:
    text = csv_text(["unit", "mean"], [["Team, North", 3.5], ["=1+1", None]])
    assert text == 'unit,mean\r\n"Team, North",3.5\r\n\'=1+1,\r\n'


def test_a_benchmark_file_is_read_and_every_problem_in_it_named(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("name: HSE national\nscales:\n  demands: {p20: 2.8, p50: 3.2, p80: 3.6}\n")
    loaded = load_benchmark_file(good)
    assert loaded.name == "HSE national"
    assert {s.value: (v.p20, v.p50, v.p80) for s, v in loaded.scales.items()} == {"demands": (2.8, 3.2, 3.6)}

    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nscales:\n  demands: {p20: 3.9, p50: 3.2, p80: 3.6}\n  stress: {p20: 1, p50: 2, p80: 9}\n")
    with pytest.raises(ConfigurationError) as refused:
        load_benchmark_file(bad)
    message = str(refused.value)
    assert "scales.demands" in message
    assert "p20 ≤ p50 ≤ p80" in message
    assert "stress" in message
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_benchmark_file(tmp_path / "missing.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("scales: [unclosed\n")
    with pytest.raises(ConfigurationError, match="not valid YAML"):
        load_benchmark_file(broken)


# --- item distributions ----------------------------------------------------------------------


def _answers(people: dict[str, list[int]], score: dict[str, float]) -> dict[tuple[str, date, str], Sums]:
    """The directorate's ``answer:DEM-01:<score>`` rows, as reporting keeps them from the same responses."""
    rows: dict[tuple[str, date, str], Sums] = {}
    for unit, weekly in people.items():
        for week, n in zip(WEEKS, weekly, strict=True):
            if n:
                key = ("dir", week, answer_measure("DEM-01", round(score[unit])))
                rows[key] = rows.get(key, Sums()) + _sums([1.0] * n)
    return rows


def test_an_item_distribution_counts_each_score_and_adds_up_to_its_shown_responses() -> None:
    people = {"a": [6, 6, 6], "b": [9, 0, 8], "tiny": [3, 3, 3]}
    score = {"a": 2.0, "b": 4.0, "tiny": 1.0}
    view = items.items_view(_around(people, score), _answers(people, score), BANK, K)

    dem = next(i for i in view.items if i.code == "DEM-01")
    assert not dem.suppressed
    assert dem.distribution == {"1": 9, "2": 18, "3": 0, "4": 17, "5": 0}
    assert dem.responses == sum(dem.distribution.values()) == 44
    assert dem.mean == round((9 * 1 + 18 * 2 + 17 * 4) / 44, 4)
    assert dem.hse_scale == "demands"
    assert dem.text["en"]
    # Items nobody answered over the window show nothing, as a suppressed cell does.
    others = [i for i in view.items if i.code != "DEM-01"]
    assert others
    assert all(i.suppressed and i.distribution is None and i.mean is None for i in others)
    assert {i.code for i in view.items} == {i.code for i in BANK.items if i.hse_scale is not None}


def test_an_item_distribution_is_hidden_wherever_its_mean_is() -> None:
    # Week 2 the whole directorate has four respondents: the window is suppressed, and with it
    # every count of the distribution, in the JSON and in the CSV.
    people = {"a": [6, 2, 6], "b": [9, 2, 8], "tiny": [0, 0, 0]}
    score = {"a": 2.0, "b": 4.0, "tiny": 1.0}
    view = items.items_view(_around(people, score), _answers(people, score), BANK, K)

    dem = next(i for i in view.items if i.code == "DEM-01")
    assert dem.suppressed
    assert dem.distribution is None
    assert dem.responses is None
    line = next(r for r in items.csv_rows(view) if r[2] == "DEM-01")
    assert list(line[4:]) == ["suppressed"] * 7


def test_reporting_keeps_each_item_score_as_one_answer_of_its_distribution() -> None:
    event = ResponseScored(
        response_id=uuid.uuid4(),
        pulse_id="2026-W46-x",
        unit_id="team",
        iso_week="2026-W46",
        scoring_version="test",
        scales={"demands": 3.0},
        items={"DEM-01": 2.0, "DEM-02": 4.0},
        families=AlertFamilies(),
    )
    kept = dict(reporting_measures(event))
    assert kept["answer:DEM-01:2"] == kept["answer:DEM-02:4"] == 1.0
    assert not any(m.startswith("answer:") and m not in ("answer:DEM-01:2", "answer:DEM-02:4") for m in kept)
    assert kept["item:DEM-01"] == 2.0  # the shared measures are all still there
