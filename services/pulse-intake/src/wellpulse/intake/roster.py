"""Pure: parse and check a roster file (email, unit) before anything is written.

The roster exists only to send each person this week's link. It never goes on Kafka, and nothing
ever records which link went to which address.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from wellpulse.intake.files import FileInvalid, RowProblem, blank_to_none, read_rows

COLUMNS = ("email", "unit_id")


@dataclass(frozen=True)
class RosterEntry:
    email: str  # normalised: the domain lower-cased, as email_validator returns it
    unit_id: str


def parse_roster(text: str, media_type: str, known_units: Collection[str]) -> list[RosterEntry]:
    problems: list[RowProblem] = []
    entries: dict[str, tuple[int, RosterEntry]] = {}
    for line, row in read_rows(text, media_type, COLUMNS, "roster"):
        email, unit_id = (blank_to_none(row.get(c)) for c in COLUMNS)
        row_problems = []
        if not isinstance(email, str):
            row_problems.append(RowProblem(line, "email", "every person needs an email address"))
        else:
            try:
                email = validate_email(email.strip(), check_deliverability=False).normalized
            except EmailNotValidError as exc:
                row_problems.append(RowProblem(line, "email", f"not a valid address: {exc}"))
        if not isinstance(unit_id, str):
            row_problems.append(RowProblem(line, "unit_id", "every person needs a unit"))
        elif unit_id not in known_units:
            row_problems.append(RowProblem(line, "unit_id", f"unknown unit {unit_id!r}; import the org tree first"))
        if row_problems:
            problems += row_problems
            continue
        assert isinstance(email, str)
        assert isinstance(unit_id, str)
        key = email.casefold()
        if key in entries:
            problems.append(RowProblem(line, "email", f"duplicate address, first used on line {entries[key][0]}"))
            continue
        entries[key] = (line, RosterEntry(email, unit_id))
    if problems:
        raise FileInvalid(problems)
    return [entry for _, entry in entries.values()]
