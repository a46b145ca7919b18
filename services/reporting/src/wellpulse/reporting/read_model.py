"""Reporting's read model in one schema, and the one way records are applied to it: the live
subscribers (``handlers``) and ``wellpulse-reporting rebuild`` both go through here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from wellpulse.common.events import AlertRaised, AlertStatusChanged, Payload, ResponseScored, monday_of
from wellpulse.common.kafka import Received
from wellpulse.common.orgtree import UnitState, apply_units
from wellpulse.common.rollups import Contribution, SubtreeRollups
from wellpulse.reporting import alerts_store, benchmark_store, store
from wellpulse.reporting.measures import reporting_measures

# What pulse.alerts carries: an alert raised, and HR's handling of it.
ALERT_EVENTS: tuple[type[Payload], ...] = (AlertRaised, AlertStatusChanged)


@dataclass(frozen=True)
class ReadModel:
    """The tables of one schema: the live ``reporting``, or a copy being rebuilt beside it."""

    schema: str
    rollups: SubtreeRollups

    @classmethod
    def in_schema(cls, schema: str) -> ReadModel:
        return cls(schema, SubtreeRollups(schema))


async def apply_scored(conn: asyncpg.Connection, model: ReadModel, received: Sequence[Received[ResponseScored]]) -> int:
    """Add each scored response to its unit's weekly rollups, once, inside the caller's
    transaction; returns how many were new (the rest had been applied before)."""
    events = {str(r.event.id): r.event.data for r in received}  # a batch's own duplicates
    if not events:
        return 0
    # The tree lock before anything is written: a rebuild swapping in a whole read model holds it
    # exclusively, and a batch waiting here must not have written to the model being replaced.
    await model.rollups.lock_shared(conn)
    fresh = await store.fresh_events(conn, model.schema, list(events))
    contributions: list[Contribution] = []
    for event_id, s in events.items():
        if event_id in fresh:
            week = monday_of(s.iso_week)
            contributions += [Contribution(s.unit_id, week, m, v) for m, v in reporting_measures(s)]
    await model.rollups.add(conn, contributions)
    return len(fresh)


async def apply_org_units(conn: asyncpg.Connection, model: ReadModel, latest: Mapping[str, UnitState]) -> None:
    """The units' latest states into the tree, inside the caller's transaction; the subtree
    rollups of any unit that moved follow it (``common.orgtree.apply_units``), and the benchmarks
    kept for the old tree are forgotten (which units are teams may have changed)."""
    if not latest:
        return
    await apply_units(conn, model.schema, latest, model.rollups)
    await benchmark_store.forget_all(conn, model.schema)


async def apply_alerts(conn: asyncpg.Connection, model: ReadModel, received: Sequence[Received[Any]]) -> int:
    """Alerts raised and HR's handling of them into the alerts projection, inside the caller's
    transaction; applying one again changes nothing. Returns how many events were applied."""
    raised = [r.event.data for r in received if isinstance(r.event.data, AlertRaised)]
    changed = [r.event.data for r in received if isinstance(r.event.data, AlertStatusChanged)]
    if not raised and not changed:
        return 0
    # The tree lock, as for rollups: a swap replacing the alerts table with a rebuilt one must
    # not lose a batch committed to the old table after the rebuild's last read of the topic.
    await model.rollups.lock_shared(conn)
    await alerts_store.apply_raised(conn, model.schema, raised)
    await alerts_store.apply_status(conn, model.schema, changed)
    return len(raised) + len(changed)
