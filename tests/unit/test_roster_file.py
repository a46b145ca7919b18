"""Roster files: every bad row reported with its line; nothing imported unless all are good."""

from __future__ import annotations

import json

import pytest

from wellpulse.intake.files import FileInvalid
from wellpulse.intake.roster import RosterEntry, parse_roster

UNITS = {"team-a", "team-b"}


def test_a_good_csv_and_the_same_json_give_the_same_roster() -> None:
    csv_text = "email,unit_id\nAda@Example.ORG,team-a\nbo@example.org,team-b\n"
    entries = [{"email": "Ada@Example.ORG", "unit_id": "team-a"}, {"email": "bo@example.org", "unit_id": "team-b"}]
    expected = [RosterEntry("Ada@example.org", "team-a"), RosterEntry("bo@example.org", "team-b")]
    assert parse_roster(csv_text, "text/csv", UNITS) == expected
    assert parse_roster(json.dumps({"roster": entries}), "application/json", UNITS) == expected


def test_five_different_bad_rows_are_all_reported_with_their_lines() -> None:
    text = "\n".join(
        [
            "email,unit_id",
            "ok@example.org,team-a",
            "no-at-sign,team-a",
            "x@example.org,team-z",
            "OK@example.org,team-b",
            ",team-a",
            "y@example.org,",
        ]
    )
    with pytest.raises(FileInvalid) as caught:
        parse_roster(text, "text/csv", UNITS)
    found = [(p.line, p.column, p.reason.split(" ")[0]) for p in caught.value.problems]
    assert found == [
        (3, "email", "not"),
        (4, "unit_id", "unknown"),
        (5, "email", "duplicate"),
        (6, "email", "every"),
        (7, "unit_id", "every"),
    ]


def test_a_missing_column_is_named() -> None:
    with pytest.raises(FileInvalid) as caught:
        parse_roster("address,unit_id\na@example.org,team-a\n", "text/csv", UNITS)
    assert [(p.line, p.column) for p in caught.value.problems] == [(1, "email")]


@pytest.mark.parametrize(
    ("text", "media_type"), [('{"roster": []}', "application/json"), ("email,unit_id\n", "text/csv")]
)
def test_a_roster_with_nobody_on_it_is_refused(text: str, media_type: str) -> None:
    with pytest.raises(FileInvalid) as refused:
        parse_roster(text, media_type, {"team"})
    assert [p.reason for p in refused.value.problems] == [
        "nothing to import: the file has no rows, and importing it would remove everything"
    ]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_every_line_ending_a_spreadsheet_writes_reads_the_same(newline: str) -> None:
    text = newline.join(["email,unit_id", "ada@example.org,team-a", "bo@example.org,team-b", ""])
    assert [(e.email, e.unit_id) for e in parse_roster(text, "text/csv", UNITS)] == [
        ("ada@example.org", "team-a"),
        ("bo@example.org", "team-b"),
    ]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ('email,unit_id\n"ada@example.org,team-a\n', 2),  # a quote never closed
        ('email,unit_id\nbo@example.org,team-b\n"ada"@example.org,team-a\n', 3),  # text after a closing quote
        ('"email,unit_id\r', 1),
    ],
)
def test_broken_quoting_is_reported_with_its_line_not_a_server_error(text: str, line: int) -> None:
    with pytest.raises(FileInvalid) as caught:
        parse_roster(text, "text/csv", UNITS)
    [problem] = caught.value.problems
    assert (problem.line, problem.column) == (line, "(file)")
    assert problem.reason.startswith("not valid CSV: ")
