"""Reading an uploaded CSV or JSON file into numbered rows, and reporting every problem at once."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

Row = tuple[int, Mapping[str, object]]
EMPTY = "nothing to import: the file has no rows, and importing it would remove everything"


@dataclass(frozen=True)
class RowProblem:
    line: int  # CSV: the file's line number (the header is line 1); JSON: the entry's position, from 1
    column: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}, {self.column}: {self.reason}"


class FileInvalid(ValueError):
    """The file has problems; nothing from it was imported."""

    def __init__(self, problems: list[RowProblem]) -> None:
        super().__init__(f"{len(problems)} problem(s) in the file")
        self.problems = sorted(problems, key=lambda p: (p.line, p.column))


def read_rows(text: str, media_type: str, columns: Sequence[str], list_key: str) -> list[Row]:
    """Rows of a ``text/csv`` file (header line required) or a JSON list / ``{list_key: [...]}``.

    A file with no rows is refused: importing it would replace everything with nothing.
    """
    if media_type == "text/csv":
        rows = _csv_rows(text, columns)
    elif media_type == "application/json":
        rows = _json_rows(text, list_key)
    else:
        raise FileInvalid([RowProblem(1, "(file)", "send text/csv or application/json")])
    if not rows:
        raise FileInvalid(
            [
                RowProblem(
                    1, "(file)", "nothing to import: the file has no rows, and importing it would remove everything"
                )
            ]
        )
    return rows


def _csv_rows(text: str, columns: Sequence[str]) -> list[Row]:
    # newline="" hands the csv module every line ending as sent (\r\n, \n or a lone \r).
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        missing = [c for c in columns if c not in (reader.fieldnames or [])]
        if missing:
            raise FileInvalid([RowProblem(1, c, "column missing from the header") for c in missing])
        # line_num counts physical lines, so quoted newlines keep the numbers honest.
        return [(reader.line_num, row) for row in reader]
    except csv.Error as exc:
        raise FileInvalid([RowProblem(reader.line_num + 1, "(file)", f"not valid CSV: {exc}")]) from exc


def _json_rows(text: str, list_key: str) -> list[Row]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileInvalid([RowProblem(exc.lineno, "(file)", f"not valid JSON: {exc.msg}")]) from exc
    if isinstance(document, dict) and (unexpected := sorted(set(document) - {list_key})):
        raise FileInvalid(
            [
                RowProblem(
                    1, "(file)", f'unexpected key {", ".join(map(repr, unexpected))}: send {{"{list_key}": [...]}}'
                )
            ]
        )
    entries = document.get(list_key) if isinstance(document, dict) else document
    if not isinstance(entries, list):
        raise FileInvalid([RowProblem(1, "(file)", f'expected a list or {{"{list_key}": [...]}}')])
    return [(i, e if isinstance(e, Mapping) else {}) for i, e in enumerate(entries, start=1)]


def blank_to_none(value: object) -> object:
    return None if value is None or (isinstance(value, str) and not value.strip()) else value
