"""Pure: which items a weekly round asks.

Alert-family items every week; the rest rotate through the remaining slots so every item comes
round again within ceil(rotating / slots) consecutive weeks, and a week always gets the same items.
"""

from __future__ import annotations

from datetime import date

from wellpulse.common.bank import QuestionBank
from wellpulse.common.events import monday_of

MAX_ITEMS = 8
# Rounds count from a fixed Monday so the same ISO week always maps to the same slice.
_EPOCH = date(2024, 1, 1)


def items_for_week(bank: QuestionBank, iso_week: str, max_items: int = MAX_ITEMS) -> tuple[str, ...]:
    family = [item.code for item in bank.family_items()]
    rotating = sorted(item.code for item in bank.rotating_items())
    slots = min(max_items - len(family), len(rotating))
    if slots <= 0:
        return tuple(family)
    round_number = (monday_of(iso_week) - _EPOCH).days // 7
    start = round_number * slots
    chosen = [rotating[(start + j) % len(rotating)] for j in range(slots)]
    return (*family, *sorted(chosen))
