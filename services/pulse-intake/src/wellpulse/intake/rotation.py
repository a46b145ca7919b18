"""Pure: which items a weekly round asks.

Alert-family items every week; the rest rotate through the remaining slots so every item comes
round again within ceil(rotating / slots) consecutive weeks, and a week always gets the same items.
"""

from __future__ import annotations

from datetime import date

from wellpulse.common.bank import QuestionBank
from wellpulse.common.events import monday_of

MAX_ITEMS = 8
# Every item is asked at least once in this many consecutive rounds.
COVERAGE_ROUNDS = 6
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


def check_rotation(bank: QuestionBank, max_items: int = MAX_ITEMS) -> None:
    """Refuse a bank and pulse size that cannot ask every item within ``COVERAGE_ROUNDS`` rounds."""
    family, rotating = len(bank.family_items()), len(bank.rotating_items())
    slots = max_items - family
    if slots < 0 or (rotating and slots * COVERAGE_ROUNDS < rotating):
        needed = family + -(-rotating // COVERAGE_ROUNDS)
        raise RotationImpossible(
            f"the bank asks {family} alert-family items every week and rotates {rotating} others; "
            f"with at most {max_items} items a pulse, some would wait more than {COVERAGE_ROUNDS} "
            f"weeks. Allow at least {needed} items (INTAKE_MAX_ITEMS_PER_PULSE) or shorten the bank."
        )


class RotationImpossible(ValueError):
    pass
