"""Reporting's projection of ``pulse.alerts``: one row per alert (unit, rule, family, window, status),
applied idempotently whatever is delivered twice or out of turn."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import asyncpg

from wellpulse.common.events import AlertRaised, AlertStatusChanged, monday_of


async def apply_raised(conn: asyncpg.Connection, schema: str, raised: Sequence[AlertRaised]) -> None:
    """An alert raised: open, unless its handling was seen first (then only its window is filled in)."""
    if not raised:
        return
    await conn.execute(
        f"""
        INSERT INTO {schema}.alerts AS a (alert_id, unit_id, rule, family, window_end, status)
        SELECT alert_id, unit_id, rule, family, window_end, 'open'
        FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::date[])
             AS r(alert_id, unit_id, rule, family, window_end)
        ON CONFLICT (alert_id) DO UPDATE SET window_end = excluded.window_end
        """,
        [r.alert_id for r in raised],
        [r.unit_id for r in raised],
        [r.rule for r in raised],
        [r.family for r in raised],
        [monday_of(r.window_end_week) for r in raised],
    )


async def apply_status(conn: asyncpg.Connection, schema: str, changes: Sequence[AlertStatusChanged]) -> None:
    """HR's acknowledging or resolving: kept where it is newer than what the row has."""
    latest: dict[str, AlertStatusChanged] = {}
    for change in changes:  # a batch may hold several changes of one alert
        key = str(change.alert_id)
        if key not in latest or change.seq > latest[key].seq:
            latest[key] = change
    if not latest:
        return
    rows = list(latest.values())
    await conn.execute(
        f"""
        INSERT INTO {schema}.alerts AS a (alert_id, unit_id, rule, family, status, status_seq)
        SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[])
        ON CONFLICT (alert_id) DO UPDATE SET status = excluded.status, status_seq = excluded.status_seq
        WHERE a.status_seq < excluded.status_seq
        """,
        [r.alert_id for r in rows],
        [r.unit_id for r in rows],
        [r.rule for r in rows],
        [r.family for r in rows],
        [r.status for r in rows],
        [r.seq for r in rows],
    )


@dataclass(frozen=True)
class AlertRow:
    unit_id: str
    family: str
    status: str
    window_end: date | None


async def alerts_live_or_within(
    conn: asyncpg.Connection | asyncpg.Pool, schema: str, first_week: date, last_week: date
) -> list[AlertRow]:
    """Every alert not yet resolved, and every alert raised for a window ending in these weeks."""
    rows = await conn.fetch(
        f"""
        SELECT unit_id, family, status, window_end FROM {schema}.alerts
        WHERE status <> 'resolved' OR window_end BETWEEN $1 AND $2
        """,
        first_week,
        last_week,
    )
    return [AlertRow(r["unit_id"], r["family"], r["status"], r["window_end"]) for r in rows]
