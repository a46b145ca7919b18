"""Unit tests for org-tree file parsing: every problem reported at once, at the line an admin can find."""

from __future__ import annotations

import json

import pytest

from wellpulse.common.events import OrgUnit
from wellpulse.intake.files import FileInvalid, RowProblem
from wellpulse.intake.org import parse_org


def parse_org_csv(text: str) -> list[OrgUnit]:
    return parse_org(text, "text/csv")


def parse_org_json(text: str) -> list[OrgUnit]:
    return parse_org(text, "application/json")


GOOD_CSV = """unit_id,parent_id,name,headcount
org,,North Shire Council,1200
childrens,org,Children's Services,300
team-a,childrens,Assessment Team A,12
team-b,childrens,"Looked After Children, Team B",9
"""


def problems_of(text: str, parse: object) -> list[RowProblem]:
    assert callable(parse)
    with pytest.raises(FileInvalid) as caught:
        parse(text)
    return caught.value.problems


def test_good_csv_parses_into_units() -> None:
    units = parse_org_csv(GOOD_CSV)

    assert units == [
        OrgUnit(unit_id="org", parent_id=None, name="North Shire Council", headcount=1200),
        OrgUnit(unit_id="childrens", parent_id="org", name="Children's Services", headcount=300),
        OrgUnit(unit_id="team-a", parent_id="childrens", name="Assessment Team A", headcount=12),
        OrgUnit(unit_id="team-b", parent_id="childrens", name="Looked After Children, Team B", headcount=9),
    ]


def test_csv_rows_may_come_before_their_parent_and_columns_in_any_order() -> None:
    text = "name,headcount,unit_id,parent_id\nTeam A,12,team-a,org\nOrg,100,org,\n"

    units = parse_org_csv(text)

    assert {u.unit_id: u.parent_id for u in units} == {"team-a": "org", "org": None}


def test_good_json_parses_as_a_list_or_an_object_with_units() -> None:
    entries = [
        {"unit_id": "org", "parent_id": None, "name": "North Shire Council", "headcount": 1200},
        {"unit_id": "team-a", "parent_id": "org", "name": "Assessment Team A", "headcount": 12},
    ]
    expected = [OrgUnit.model_validate(e) for e in entries]

    assert parse_org_json(json.dumps(entries)) == expected
    assert parse_org_json(json.dumps({"units": entries})) == expected


# The header is line 1, so the first unit is on line 2.
BAD_CSV = """unit_id,parent_id,name,headcount
org,,North Shire Council,1200
team-a,ghost,Orphan Team,8
loop,loop,Its Own Parent,4
org,,Second Org,10
no-count,org,Uncounted Team,
bad id!,org,Badly Named Team,6
negative,org,Negative Team,-3
team-b,org,Good Team,7
"""


def test_every_bad_csv_row_is_reported_with_its_line() -> None:
    problems = problems_of(BAD_CSV, parse_org_csv)

    found = {(p.line, p.column): p.reason for p in problems}
    assert set(found) == {
        (3, "parent_id"),
        (4, "parent_id"),
        (5, "unit_id"),
        (6, "headcount"),
        (7, "unit_id"),
        (8, "headcount"),
    }
    assert len(problems) == 6
    assert "unknown parent 'ghost'" in found[3, "parent_id"]
    assert found[4, "parent_id"] == "cycle: loop -> loop"
    assert found[5, "unit_id"] == "duplicate id, first used on line 2"
    assert found[6, "headcount"] == "every unit needs a headcount"
    assert "pattern" in found[7, "unit_id"]
    assert "greater than or equal to 0" in found[8, "headcount"]
    assert [p.line for p in problems] == sorted(p.line for p in problems)


def test_a_cycle_is_reported_once_on_its_first_line() -> None:
    text = """unit_id,parent_id,name,headcount
org,,Org,100
a,c,A,1
b,a,B,1
c,b,C,1
"""

    problems = problems_of(text, parse_org_csv)

    assert len(problems) == 1
    assert (problems[0].line, problems[0].column) == (3, "parent_id")
    assert problems[0].reason.startswith("cycle: ")
    assert set(problems[0].reason.removeprefix("cycle: ").split(" -> ")) == {"a", "b", "c"}


def test_line_numbers_count_physical_lines_past_quoted_newlines_and_blank_lines() -> None:
    text = 'unit_id,parent_id,name,headcount\norg,,"North\nShire",100\n\nteam-a,ghost,Team A,5\n'

    problems = problems_of(text, parse_org_csv)

    assert [(p.line, p.column) for p in problems] == [(5, "parent_id")]


def test_problem_reads_as_a_sentence_an_admin_can_act_on() -> None:
    problems = problems_of(BAD_CSV, parse_org_csv)

    assert str(problems[0]) == "line 3, parent_id: unknown parent 'ghost'"


@pytest.mark.parametrize("missing", ["unit_id", "parent_id", "name", "headcount"])
def test_a_missing_header_column_is_reported_on_line_one(missing: str) -> None:
    columns = [c for c in ("unit_id", "parent_id", "name", "headcount") if c != missing]
    text = ",".join(columns) + "\n" + ",".join("x" for _ in columns) + "\n"

    problems = problems_of(text, parse_org_csv)

    assert problems == [RowProblem(1, missing, "column missing from the header")]


def test_an_empty_csv_reports_every_column_missing() -> None:
    problems = problems_of("", parse_org_csv)

    assert sorted(p.column for p in problems) == ["headcount", "name", "parent_id", "unit_id"]


def test_invalid_json_reports_the_line_of_the_mistake() -> None:
    text = '{\n  "units": [\n    {"unit_id": "org", "name": "Org", "headcount": 5},\n    {"unit_id": ,}\n  ]\n}\n'

    problems = problems_of(text, parse_org_json)

    assert len(problems) == 1
    assert problems[0].line == 4
    assert problems[0].column == "(file)"
    assert problems[0].reason.startswith("not valid JSON")


@pytest.mark.parametrize(
    "document", ['{"unit": []}', '"units"', "42", '{"units": {"org": {}}}', '{"units": [], "roster": []}']
)
def test_json_without_a_list_of_units_is_refused(document: str) -> None:
    problems = problems_of(document, parse_org_json)

    assert [(p.line, p.column) for p in problems] == [(1, "(file)")]


def test_json_problems_name_the_entrys_position_from_one() -> None:
    entries: list[object] = [
        {"unit_id": "org", "parent_id": None, "name": "Org", "headcount": 100},
        {"unit_id": "team-a", "parent_id": "org", "name": "Team A", "headcount": -1},
        "team-b",
        {"unit_id": "team-c", "parent_id": "nowhere", "name": "Team C", "headcount": 4},
        {"unit_id": "org", "parent_id": None, "name": "Org again", "headcount": 4},
    ]

    problems = problems_of(json.dumps({"units": entries}), parse_org_json)

    assert [(p.line, p.column) for p in problems] == [
        (2, "headcount"),
        (3, "headcount"),
        (4, "parent_id"),
        (5, "unit_id"),
    ]
    assert problems[3].reason == "duplicate id, first used on line 1"


def test_nothing_is_returned_when_one_row_is_bad() -> None:
    text = GOOD_CSV + "team-c,childrens,Team C,lots\n"

    problems = problems_of(text, parse_org_csv)

    assert [(p.line, p.column) for p in problems] == [(6, "headcount")]


@pytest.mark.parametrize(
    ("text", "media_type"),
    [
        ("[]", "application/json"),
        ('{"units": []}', "application/json"),
        ("unit_id,parent_id,name,headcount\n", "text/csv"),
    ],
)
def test_a_file_with_no_units_is_refused_rather_than_emptying_the_tree(text: str, media_type: str) -> None:
    with pytest.raises(FileInvalid) as refused:
        parse_org(text, media_type)
    [problem] = refused.value.problems
    assert "nothing to import" in problem.reason


def test_a_name_with_a_control_character_and_an_impossible_headcount_are_named() -> None:
    entries = [
        {"unit_id": "org", "parent_id": None, "name": "Org\x00", "headcount": 10},
        {"unit_id": "team", "parent_id": "org", "name": "Team", "headcount": 2**80},
        {"unit_id": "other", "parent_id": "org", "name": "Other", "headcount": False},
    ]
    problems = problems_of(json.dumps(entries), parse_org_json)

    assert [(p.line, p.column) for p in problems] == [(1, "name"), (2, "headcount"), (3, "headcount")]
    assert "control character" in problems[0].reason
