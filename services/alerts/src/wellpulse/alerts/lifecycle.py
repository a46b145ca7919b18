"""Pure: an alert's lifecycle. open → acknowledged → resolved (with a note); one live alert per unit
and rule; after resolution the same rule raises a new alert for the unit only once the cooldown
has passed and its condition holds again (the new alert follows the old one)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


class Status(StrEnum):
    open = "open"
    acknowledged = "acknowledged"
    resolved = "resolved"


class Action(StrEnum):
    acknowledge = "acknowledge"
    resolve = "resolve"


class Decision(StrEnum):
    raise_new = "raise"  # no live alert: raise one
    update = "update"  # a live alert: bring its figures up to date, tell nobody again
    cooling = "cooling"  # resolved too recently: stay quiet


class InvalidTransition(ValueError):
    """The alert cannot go from its status by that action; the message says why and what can."""


@dataclass(frozen=True)
class Latest:
    """The most recent alert of a unit and rule."""

    alert_id: str
    status: Status
    resolved_on: date | None = None


def on_condition(latest: Latest | None, window_end: date, cooldown_weeks: int) -> Decision:
    """What to do when a rule's condition holds for a window ending ``window_end`` (a Monday)."""
    if latest is None:
        return Decision.raise_new
    if latest.status is not Status.resolved:
        return Decision.update
    resolved = latest.resolved_on or window_end
    resolved_week = resolved - timedelta(days=resolved.weekday())
    if window_end >= resolved_week + timedelta(weeks=cooldown_weeks):
        return Decision.raise_new
    return Decision.cooling


def transition(status: Status, action: Action, note: str | None) -> Status:
    if action is Action.acknowledge:
        if status is Status.open:
            return Status.acknowledged
        raise InvalidTransition(f"the alert is {status}: only an open alert can be acknowledged")
    if status is Status.resolved:
        raise InvalidTransition("the alert is already resolved")
    if not note or not note.strip():
        raise InvalidTransition("resolving an alert needs a note saying what was done")
    return Status.resolved
