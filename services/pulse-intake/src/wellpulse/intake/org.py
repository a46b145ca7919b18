"""Pure: parse and check an org-tree file (CSV or JSON) before anything is written.

Every problem is reported at once, with the line (CSV) or entry (JSON) and column, so an admin can
fix the export in one pass. Nothing is imported unless the whole file is good.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pydantic import ValidationError

from wellpulse.common.events import OrgUnit
from wellpulse.intake.files import FileInvalid, RowProblem, blank_to_none, read_rows

COLUMNS = ("unit_id", "parent_id", "name", "headcount")


def parse_org(text: str, media_type: str) -> list[OrgUnit]:
    return check_units(read_rows(text, media_type, COLUMNS, "units"))


def check_units(rows: Iterable[tuple[int, Mapping[str, object]]]) -> list[OrgUnit]:
    problems: list[RowProblem] = []
    units: dict[str, tuple[int, OrgUnit]] = {}
    for line, row in rows:
        fields = {c: blank_to_none(row.get(c)) for c in COLUMNS}
        if fields["headcount"] is None:
            problems.append(RowProblem(line, "headcount", "every unit needs a headcount"))
            continue
        if isinstance(fields["headcount"], bool):  # JSON true/false would otherwise pass as 1/0
            problems.append(RowProblem(line, "headcount", "a headcount is a whole number of people"))
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
        raise FileInvalid(problems)
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
