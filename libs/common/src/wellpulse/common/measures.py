"""What one scored response contributes to the rollups alerts and reporting keep: pure, shared.

Each (measure, value) adds 1 to the measure's n, the value to its sum and value² to its sum of
squares, so a mean, a share or a spread is available for any unit, week or window from sums alone.
"""

from __future__ import annotations

from collections.abc import Iterator

from wellpulse.common.events import ResponseScored

RESPONSES = "responses"
INTENDS_TO_LEAVE = "family:intends_to_leave"
BULLYING_REPORTED = "family:bullying_reported"
CASELOAD_MANAGEABLE = "family:caseload_manageable"
CASELOAD_UNMANAGEABLE = "family:caseload_unmanageable"
CASES_HELD = "family:cases_held"
# A 1–5 manageability score this low is disagreeing that one's caseload is manageable.
UNMANAGEABLE_SCORE = 2.0


SCALE_PREFIX = "scale:"
ITEM_PREFIX = "item:"
# How many gave each 1–5 score to an item: ``answer:<code>:<score>``, n counting responses.
ANSWER_PREFIX = "answer:"
SCORES = (1, 2, 3, 4, 5)


def scale_measure(scale: str) -> str:
    return f"{SCALE_PREFIX}{scale}"


def item_measure(code: str) -> str:
    return f"{ITEM_PREFIX}{code}"


def answer_measure(code: str, score: int) -> str:
    return f"{ANSWER_PREFIX}{code}:{score}"


def answer_measures_of(scored: ResponseScored) -> Iterator[tuple[str, float]]:
    """One response's place in each item's 1–5 distribution (reporting keeps these; alerts does not)."""
    for code, score in scored.items.items():
        yield answer_measure(code, round(score)), 1.0


def measures_of(scored: ResponseScored) -> Iterator[tuple[str, float]]:
    """(measure, value) pairs one response contributes."""
    yield RESPONSES, 1.0
    for scale, mean in scored.scales.items():
        yield scale_measure(scale), mean
    for code, score in scored.items.items():
        yield item_measure(code), score
    families = scored.families
    if families.intends_to_leave is not None:
        yield INTENDS_TO_LEAVE, float(families.intends_to_leave)
    if families.bullying in ("yes", "no"):
        yield BULLYING_REPORTED, float(families.bullying == "yes")
    if families.caseload_manageable is not None:
        yield CASELOAD_MANAGEABLE, families.caseload_manageable
        yield CASELOAD_UNMANAGEABLE, float(families.caseload_manageable <= UNMANAGEABLE_SCORE)
    if families.cases_held is not None:
        yield CASES_HELD, float(families.cases_held)
