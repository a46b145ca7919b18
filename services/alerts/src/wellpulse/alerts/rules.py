"""Pure alert rules. No I/O: counts in, a decision out.

Alerts respect the minimum reporting group: a rule names the smallest unit, climbing from the
submitting unit towards the root, whose window has at least ``k`` answers; below that nobody is named.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

INTENT_TO_LEAVE = "intent_to_leave"


@dataclass(frozen=True)
class WindowCounts:
    """One unit's subtree over the rule's window."""

    unit_id: str
    respondents: int
    leave_answered: int
    leavers: int


@dataclass(frozen=True)
class IntentToLeaveRule:
    """Share of a unit's respondents over the last ``window_weeks`` who intend to leave."""

    threshold: float
    min_group: int
    window_weeks: int = 4
    name: str = INTENT_TO_LEAVE

    def window(self, week_start: date) -> tuple[date, date]:
        return week_start - timedelta(weeks=self.window_weeks - 1), week_start

    def evaluate(self, chain: Sequence[WindowCounts]) -> Decision | None:
        """``chain`` runs from the submitting unit up to the root, each with its subtree's counts."""
        for counts in chain:
            # The share describes the people who answered the leaving items: that group is the one
            # that must be at least k strong, or the figure says something about too few people.
            if counts.leave_answered >= self.min_group:
                share = counts.leavers / counts.leave_answered
                if share >= self.threshold:
                    return Decision(counts.unit_id, counts.leave_answered, share)
                return None
        return None


@dataclass(frozen=True)
class Decision:
    unit_id: str
    respondents: int
    value: float
