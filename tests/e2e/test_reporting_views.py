"""Leaders' views through the real pipeline: trends, the heatmap, the 12 Changes and item distributions for the demo's
shape (a directorate whose one team is below k), figures checked against the answers, and every
answer of the API put together without recovering the small team."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from itertools import combinations
from statistics import fmean
from typing import Any

import httpx

from tests.e2e.support import Auth, Org, Roster, answers_for, poll, submit
from wellpulse.common.bank import load_bank
from wellpulse.devstack.stack import Services

K = 5
BANK = load_bank()


def _answers(pulse: dict[str, Any], person: int) -> dict[str, int | str]:
    """Valid answers that differ from person to person and item to item."""
    answers = answers_for(pulse, leaving=person % 2 == 0)
    for index, item in enumerate(pulse["items"]):
        if BANK.item(item["code"]).hse_scale is not None:
            answers[item["code"]] = 1 + (person * 3 + index) % 5
    return answers


def _scores(answers: dict[str, int | str]) -> dict[str, float]:
    """Each scored item's 1–5 score, higher better, from the bank's own reverse flags."""
    scores = {}
    for code, value in answers.items():
        item = BANK.item(code)
        if item.hse_scale is not None and isinstance(value, int):
            scores[code] = float(6 - value if item.reverse else value)
    return scores


def _get(stack: Services, path: str, headers: dict[str, str], **params: Any) -> dict[str, Any]:
    answer = httpx.get(stack.url("reporting") + path, headers=headers, params=params)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_a_directorate_whose_one_team_is_below_k_gives_that_team_away_in_no_answer(
    stack: Services, auth: Auth, org: Org, roster: Roster, pulse: dict[str, Any], uid: str
) -> None:
    root, directorate, other = f"{uid}-root", f"{uid}-dir", f"{uid}-other"
    big, bigger, small = f"{uid}-team-a", f"{uid}-team-b", f"{uid}-team-c"
    sizes = {big: 6, bigger: 7, small: 3, other: 5}
    org.add((root, None, 0), (directorate, root, 0), (other, root, 6), (big, directorate, 8))
    org.add((bigger, directorate, 9), (small, directorate, 4))
    org.units[big]["name"] = "=HYPERLINK(1) Team A"  # a name a spreadsheet would run, were it not escaped
    org.put()

    answered: dict[str, list[dict[str, float]]] = defaultdict(list)
    person = 0
    for team, size in sizes.items():
        for token in roster.tokens(pulse["pulse_id"], team, size):
            answers = _answers(pulse, person)
            assert submit(stack.url("pulse-intake"), token, answers).status_code == 202
            answered[team].append(_scores(answers))
            person += 1

    leader = auth.leader(root)
    week = pulse["iso_week"]
    poll(
        lambda: _get(stack, f"/v1/units/{root}/trends", leader, weeks=1, to_week=week),
        lambda t: t["weeks"][0]["respondents"] == sum(sizes.values()),
        "reporting has every response",
    )

    # Every figure the API gives, per measure: unit -> n (one week: trends, one-week windows).
    seen: dict[str, dict[str, int]] = defaultdict(dict)

    def note(measure: str, unit: str, n: int | None) -> None:
        if n is not None:
            assert seen[measure].setdefault(unit, n) == n, f"{unit} {measure}: one figure everywhere"

    units = [root, directorate, other, big, bigger, small]
    for unit in units:
        [trend_week] = _get(stack, f"/v1/units/{unit}/trends", leader, weeks=1, to_week=week)["weeks"]
        note("responses", unit, trend_week["respondents"])
        for measure, shown in trend_week["measures"].items():
            note(measure, unit, shown["n"] if shown else None)
    heatmaps = {u: _get(stack, f"/v1/units/{u}/heatmap", leader, weeks=1, to_week=week) for u in units}
    for map_ in heatmaps.values():
        for row in map_["rows"]:
            for scale, cell in row["cells"].items():
                note(f"scale:{scale}", row["unit_id"], cell["responses"])
                assert cell["suppressed"] == (cell["mean"] is None)

    item_views = {u: _get(stack, f"/v1/units/{u}/items", leader, weeks=1, to_week=week) for u in units}
    for unit, view in item_views.items():
        for item in view["items"]:
            note(f"item:{item['code']}", unit, item["responses"])
            shown = item["distribution"]
            assert item["suppressed"] == (shown is None) == (item["mean"] is None)
            if shown is not None:
                assert sum(shown.values()) == item["responses"]

    # The small team: nothing, anywhere.
    assert not any(small in by_unit for by_unit in seen.values())
    [small_row] = [r for r in heatmaps[directorate]["rows"] if r["unit_id"] == small]
    assert all(
        c == {"suppressed": True, "mean": None, "responses": None, "band": None} for c in small_row["cells"].values()
    )
    assert small_row["response_rate"] is None

    # No difference of shown figures isolates fewer than k: a unit minus any set of disjoint shown
    # units below it (the directorate minus its shown teams, the root minus the directorate...).
    parent_of = {directorate: root, other: root, big: directorate, bigger: directorate, small: directorate}

    def above(unit: str) -> set[str]:
        found = set()
        while unit in parent_of:
            unit = parent_of[unit]
            found.add(unit)
        return found

    for measure, by_unit in seen.items():
        for top in (u for u in (root, directorate) if u in by_unit):
            inside = [u for u in by_unit if top in above(u)]
            for size in range(1, len(inside) + 1):
                for group in combinations(inside, size):
                    if any(a in above(b) or b in above(a) for a, b in combinations(group, 2)):
                        continue  # not disjoint groups of people
                    rest = by_unit[top] - sum(by_unit[u] for u in group)
                    assert rest == 0 or rest >= K, f"{measure}: {top} minus {group} leaves {rest}"
    # The directorate is shown; so one more of its teams than the small one is hidden.
    assert directorate in seen["responses"]
    assert big not in seen["responses"]
    assert seen["responses"][bigger] == sizes[bigger]

    # The figures shown are the answers' own: the bigger team's scale means, and its 12 Changes.
    [row_b] = [r for r in heatmaps[directorate]["rows"] if r["unit_id"] == bigger]
    lines = heatmaps[directorate]["benchmark"]["scales"]
    for scale, cell in row_b["cells"].items():
        codes = [i.code for i in BANK.items if i.hse_scale is not None and i.hse_scale.value == scale]
        per_response = [fmean(s[c] for c in codes if c in s) for s in answered[bigger] if any(c in s for c in codes)]
        if not per_response:
            assert cell["suppressed"]
            continue
        assert abs(cell["mean"] - fmean(per_response)) < 1e-3
        assert cell["responses"] == len(per_response)
        if lines[scale] is None:
            assert cell["band"] is None
        else:
            p20, p50, p80 = lines[scale]["p20"], lines[scale]["p50"], lines[scale]["p80"]
            expected = "red" if cell["mean"] < p20 else "yellow" if cell["mean"] < p50 else "aqua"
            assert cell["band"] == (expected if cell["mean"] < p80 else "green")
    changes = _get(stack, f"/v1/units/{directorate}/changes", leader, weeks=1, to_week=week)
    [changes_b] = [r for r in changes["rows"] if r["unit_id"] == bigger]
    [changes_small] = [r for r in changes["rows"] if r["unit_id"] == small]
    assert all(c["suppressed"] and c["score"] is None for c in changes_small["changes"].values())
    for change, got in changes_b["changes"].items():
        codes = [i.code for i in BANK.items if i.hse_scale is not None and change in {c.value for c in i.changes}]
        item_means = [
            fmean(s[c] for s in answered[bigger] if c in s) for c in codes if any(c in s for s in answered[bigger])
        ]
        assert got["items"] == len(codes)
        if item_means:
            assert got["score"] is not None, change
            assert abs(got["score"] - fmean(item_means)) < 1e-3, change
            assert got["items_shown"] == len(item_means)
        else:
            assert got["suppressed"]
    scored = [(s["score"], c) for c, s in changes_b["changes"].items() if s["score"] is not None]
    assert changes_b["most_needed"] == [c for _, c in sorted(scored)]

    # Each item's distribution is the bigger team's own answers, counted score by score.
    for item in item_views[bigger]["items"]:
        scores = [s[item["code"]] for s in answered[bigger] if item["code"] in s]
        if not scores:
            assert item["suppressed"]
            continue
        assert item["distribution"] == {str(v): scores.count(float(v)) for v in range(1, 6)}
        assert abs(item["mean"] - fmean(scores)) < 1e-3
    assert all(i["suppressed"] and i["distribution"] is None for i in item_views[small]["items"])

    # The export says the same, marks what is suppressed, and escapes what a spreadsheet would run.
    export = httpx.get(
        f"{stack.url('reporting')}/v1/units/{directorate}/heatmap",
        headers=leader,
        params={"weeks": 1, "to_week": week, "format": "csv"},
    )
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    assert "attachment" in export.headers["content-disposition"]
    lines_out = list(csv.DictReader(io.StringIO(export.text)))
    assert len(lines_out) == 4 * 7  # the directorate and its three teams, seven scales each
    assert {line["mean"] for line in lines_out if line["unit_id"] == small} == {"suppressed"}
    assert {line["unit"] for line in lines_out if line["unit_id"] == big} == {"'=HYPERLINK(1) Team A"}
    for line in lines_out:
        if line["unit_id"] == bigger:
            cell = row_b["cells"][line["scale"]]
            assert line["mean"] == ("suppressed" if cell["suppressed"] else str(cell["mean"]))

    trend_export = httpx.get(
        f"{stack.url('reporting')}/v1/units/{small}/trends",
        headers=leader,
        params={"weeks": 1, "to_week": week, "format": "csv"},
    )
    assert trend_export.status_code == 200
    [small_week] = list(csv.DictReader(io.StringIO(trend_export.text)))
    assert (small_week["iso_week"], small_week["respondents"], small_week["mean"]) == (week, "suppressed", "")

    # A leader of the other unit sees none of it: the directorate answers as a unit that does not exist.
    outsider = auth.leader(other)
    for view in ("heatmap", "changes", "items"):
        refused = httpx.get(f"{stack.url('reporting')}/v1/units/{directorate}/{view}", headers=outsider)
        unknown = httpx.get(f"{stack.url('reporting')}/v1/units/{uid}-nowhere/{view}", headers=outsider)
        assert refused.status_code == unknown.status_code == 404
        assert refused.json() == {**unknown.json(), "detail": f"no unit {directorate!r}"}
