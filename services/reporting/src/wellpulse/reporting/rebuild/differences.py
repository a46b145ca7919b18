"""Pure: how two read models differ, table by table, from each table's rows in key order.

A merge of two ordered streams, so neither model has to fit in memory. Values must be equal,
floats to within a tolerance: the same contributions summed in another order (batches of another
size) differ in their last bits.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

# Far looser than a float's rounding over millions of additions (about 1e-10 of the sum), far
# tighter than what one answer adds to a total. The absolute floor is for totals near zero.
RELATIVE_TOLERANCE = 1e-9
ABSOLUTE_TOLERANCE = 1e-9

Key = tuple[Any, ...]
Values = tuple[Any, ...]


@dataclass(frozen=True)
class Row:
    key: Key
    values: Values


@dataclass(frozen=True)
class Columns:
    key: tuple[str, ...]
    values: tuple[str, ...]


@dataclass(frozen=True)
class Difference:
    key: Key
    live: Values | None  # None: the row is only in the rebuilt model
    rebuilt: Values | None  # None: only in the live one


def same(live: Values, rebuilt: Values) -> bool:
    """Equal row values; floats within the tolerance."""
    return len(live) == len(rebuilt) and all(_same(a, b) for a, b in zip(live, rebuilt, strict=True))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return False
        return math.isclose(a, b, rel_tol=RELATIVE_TOLERANCE, abs_tol=ABSOLUTE_TOLERANCE)
    return bool(a == b)


@dataclass
class TableComparison:
    table: str
    columns: Columns
    live_rows: int = 0
    rebuilt_rows: int = 0
    only_live: int = 0
    only_rebuilt: int = 0
    differing: int = 0
    # The first differences found, to show; the counts above cover them all.
    examples: list[Difference] = field(default_factory=list)

    @property
    def differences(self) -> int:
        return self.only_live + self.only_rebuilt + self.differing

    def as_json(self) -> dict[str, Any]:
        return {
            "live_rows": self.live_rows,
            "rebuilt_rows": self.rebuilt_rows,
            "only_live": self.only_live,
            "only_rebuilt": self.only_rebuilt,
            "differing": self.differing,
            "examples": [
                {
                    "key": _named(self.columns.key, d.key),
                    "live": _named(self.columns.values, d.live),
                    "rebuilt": _named(self.columns.values, d.rebuilt),
                }
                for d in self.examples
            ],
        }


def _named(names: Sequence[str], values: Values | None) -> dict[str, Any] | None:
    return None if values is None else dict(zip(names, map(_jsonable, values), strict=True))


def _jsonable(value: Any) -> Any:
    return value if value is None or isinstance(value, bool | int | float | str) else str(value)


async def compare_rows(
    table: str,
    columns: Columns,
    live: AsyncIterable[Row],
    rebuilt: AsyncIterable[Row],
    examples: int = 10,
) -> TableComparison:
    """Merge two streams of rows, each in strictly increasing key order, into what differs."""
    result = TableComparison(table, columns)

    def differ(difference: Difference) -> None:
        if len(result.examples) < examples:
            result.examples.append(difference)

    left, right = _ordered(table, "live", live), _ordered(table, "rebuilt", rebuilt)
    a, b = await anext(left, None), await anext(right, None)
    while a is not None or b is not None:
        if b is None or (a is not None and a.key < b.key):
            assert a is not None
            result.live_rows += 1
            result.only_live += 1
            differ(Difference(a.key, a.values, None))
            a = await anext(left, None)
        elif a is None or b.key < a.key:
            result.rebuilt_rows += 1
            result.only_rebuilt += 1
            differ(Difference(b.key, None, b.values))
            b = await anext(right, None)
        else:
            result.live_rows += 1
            result.rebuilt_rows += 1
            if not same(a.values, b.values):
                result.differing += 1
                differ(Difference(a.key, a.values, b.values))
            a, b = await anext(left, None), await anext(right, None)
    return result


async def _ordered(table: str, side: str, rows: AsyncIterable[Row]) -> AsyncIterator[Row]:
    """The rows, refusing any out of order: a merge over unordered rows would report nonsense."""
    previous: Key | None = None
    async for row in rows:
        if previous is not None and not previous < row.key:
            raise ValueError(f"{table} ({side}): row {row.key!r} came after {previous!r}, not in key order")
        previous = row.key
        yield row


@dataclass(frozen=True)
class Report:
    tables: list[TableComparison]

    @property
    def equal(self) -> bool:
        return all(t.differences == 0 for t in self.tables)

    def as_json(self) -> dict[str, Any]:
        return {"equal": self.equal, "tables": {t.table: t.as_json() for t in self.tables}}
