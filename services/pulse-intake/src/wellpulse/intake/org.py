"""Pure: parse and check an org-tree file (CSV or JSON) before anything is written.

Every problem is reported at once, with the line (CSV) or entry (JSON) and column, so an admin can
fix the export in one pass. Nothing is imported unless the whole file is good.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pydantic import ValidationError

from wellpulse.common.events import OrgUnit

COLUMNS = ("unit_id", "parent_id", "name", "headcount")


@dataclass(frozen=True)
class RowProblem:
    line: int  # CSV: the file's line number (the header is line 1); JSON: the entry's position, from 1
    column: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.column}: {self.reason}"


class OrgFileInvalid(ValueError):
    def __init__(self, problems: list[RowProblem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the org file")
        self.problems = problems


def parse_org_csv(text: str) -> list[OrgUnit]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise OrgFileInvalid([RowProblem(1, c, "column missing from the header") for c in missing])
    # DictReader's line_num counts physical lines, so quoted newlines keep the numbers honest.
    rows = []
    for row in reader:
        rows.append((reader.line_num, row))
    return check_units(rows)


def parse_org_json(text: str) -> list[OrgUnit]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise OrgFileInvalid([RowProblem(exc.lineno, "(file)", f"not valid JSON: {exc.msg}")]) from exc
    entries = document.get("units") if isinstance(document, dict) else document
    if not isinstance(entries, list):
        raise OrgFileInvalid([RowProblem(1, "(file)", 'expected a list of units or {"units": [...]}')])
    return check_units((i, e if isinstance(e, Mapping) else {}) for i, e in enumerate(entries, start=1))


def check_units(rows: Iterable[tuple[int, Mapping[str, object]]]) -> list[OrgUnit]:
    problems: list[RowProblem] = []
    units: dict[str, tuple[int, OrgUnit]] = {}
    for line, row in rows:
        fields = {c: _blank_to_none(row.get(c)) for c in COLUMNS}
        if fields["headcount"] is None:
            problems.append(RowProblem(line, "headcount", "every unit needs a headcount"))
            continue
        try:
            unit = OrgUnit.model_validate(fields)
        except ValidationError as exc:
            problems.extend(
                RowProblem(line, str(err["loc"][0]) if err["loc"] else "(row)", err["msg"])
                for err in exc.errors(include_input=False, include_url=False)
            )
            continue
        if unit.unit_id in units:
            first = units[unit.unit_id][0]
            problems.append(RowProblem(line, "unit_id", f"duplicate id, first used on line {first}"))
            continue
        units[unit.unit_id] = (line, unit)
    for line, unit in units.values():
        if unit.parent_id is not None and unit.parent_id not in units:
            problems.append(RowProblem(line, "parent_id", f"unknown parent {unit.parent_id!r}"))
    problems.extend(_cycles(units))
    if problems:
        raise OrgFileInvalid(sorted(problems, key=lambda p: (p.line, p.column)))
    return [unit for _, unit in units.values()]


def _cycles(units: Mapping[str, tuple[int, OrgUnit]]) -> list[RowProblem]:
    problems = []
    reported: set[str] = set()
    for start in units:
        seen: list[str] = []
        current: str | None = start
        while current is not None and current in units and current not in seen:
            seen.append(current)
            current = units[current][1].parent_id
        if current is not None and current in seen and current not in reported:
            loop = seen[seen.index(current) :]
            reported.update(loop)
            line = min(units[u][0] for u in loop)
            problems.append(RowProblem(line, "parent_id", f"cycle: {' -> '.join([*loop, current])}"))
    return problems


def _blank_to_none(value: object) -> object:
    return None if value is None or (isinstance(value, str) and not value.strip()) else value
