"""Alert counts by family for a unit and everything below it: how many are open, acknowledged, and
were raised for windows ending in the weeks asked about.

An alert already names a unit in which every contributing week had at least k people, and says
nothing about any one of them; counting alerts adds no figure about people, so no suppression
applies beyond the access control that keeps each leader to their part of the tree.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import date

import asyncpg
from pydantic import BaseModel, Field

from wellpulse.common.bank import AlertFamily
from wellpulse.common.csvfile import Cell
from wellpulse.common.events import iso_week_of
from wellpulse.common.rollups import SubtreeRollups
from wellpulse.reporting import store
from wellpulse.reporting.alerts_store import AlertRow, alerts_live_or_within


class FamilyCounts(BaseModel):
    open: int = Field(description="Raised and not yet acknowledged")
    acknowledged: int = Field(description="Acknowledged by HR and not yet resolved")
    raised: int = Field(description="Raised for a window ending in the weeks asked about, whatever their status")


class AlertCounts(BaseModel):
    unit_id: str
    name: str
    first_week: str
    last_week: str
    families: dict[str, FamilyCounts] = Field(
        description="Every alert family of the question bank, and any other a rule raised"
    )


def count_alerts(
    alerts: Sequence[AlertRow], chains: Mapping[str, Sequence[str]], unit_id: str, first: date, last: date
) -> dict[str, FamilyCounts]:
    """Pure. ``chains``: each alert unit with its ancestors; an alert counts where its chain holds ``unit_id``."""
    tallies: dict[str, dict[str, int]] = {f.value: {"open": 0, "acknowledged": 0, "raised": 0} for f in AlertFamily}
    for alert in alerts:
        if unit_id not in chains.get(alert.unit_id, (alert.unit_id,)):
            continue
        tally = tallies.setdefault(alert.family, {"open": 0, "acknowledged": 0, "raised": 0})
        if alert.status in ("open", "acknowledged"):
            tally[alert.status] += 1
        if alert.window_end is not None and first <= alert.window_end <= last:
            tally["raised"] += 1
    return {family: FamilyCounts(**tally) for family, tally in sorted(tallies.items())}


async def unit_alert_counts(
    pool: asyncpg.Pool, rollups: SubtreeRollups, unit: store.UnitSummary, first: date, last: date
) -> AlertCounts:
    """The counts for a unit and everything below it (the API's and the dashboard's one use case)."""
    alerts = await alerts_live_or_within(pool, rollups.schema, first, last)
    chains = await rollups.chains(pool, {a.unit_id for a in alerts}) if alerts else {}
    return AlertCounts(
        unit_id=unit.unit_id,
        name=unit.name,
        first_week=iso_week_of(first),
        last_week=iso_week_of(last),
        families=count_alerts(alerts, chains, unit.unit_id, first, last),
    )


CSV_HEADER = ["unit_id", "unit", "first_week", "last_week", "family", "open", "acknowledged", "raised"]


def csv_rows(counts: AlertCounts) -> Iterator[Sequence[Cell]]:
    for family, tally in counts.families.items():
        yield [
            counts.unit_id,
            counts.name,
            counts.first_week,
            counts.last_week,
            family,
            tally.open,
            tally.acknowledged,
            tally.raised,
        ]
