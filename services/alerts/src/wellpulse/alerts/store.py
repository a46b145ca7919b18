"""Alerts' SQL: apply scored events idempotently, read window counts, keep alerts and the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

import asyncpg

from wellpulse.alerts.rules import Decision, WindowCounts
from wellpulse.common.orgtree import SCOPE_CTE, SUBTREE_CTE

SCHEMA = "alerts"
AlertStatus = Literal["open", "acknowledged", "resolved"]


@dataclass(frozen=True)
class CountDelta:
    event_id: str
    unit_id: str
    week_start: date
    leave_answered: int
    leavers: int


async def apply_counts(conn: asyncpg.Connection, deltas: Sequence[CountDelta]) -> set[tuple[str, date]]:
    """Add the events not applied before; returns the (unit, week) pairs that changed."""
    rows = await conn.fetch(
        """
        WITH fresh AS (
            INSERT INTO alerts.applied_events (event_id)
            SELECT unnest($1::uuid[])
            ON CONFLICT DO NOTHING
            RETURNING event_id
        ), delta AS (
            SELECT d.unit_id, d.week_start, count(*) AS respondents,
                   sum(d.leave_answered) AS leave_answered, sum(d.leavers) AS leavers
            FROM unnest($1::uuid[], $2::text[], $3::date[], $4::int[], $5::int[])
                 AS d(event_id, unit_id, week_start, leave_answered, leavers)
            JOIN fresh USING (event_id)
            GROUP BY d.unit_id, d.week_start
        )
        INSERT INTO alerts.unit_week_counts AS c
            (unit_id, week_start, respondents, leave_answered, leavers)
        SELECT unit_id, week_start, respondents, leave_answered, leavers FROM delta
        ON CONFLICT (unit_id, week_start) DO UPDATE SET
            respondents = c.respondents + excluded.respondents,
            leave_answered = c.leave_answered + excluded.leave_answered,
            leavers = c.leavers + excluded.leavers
        RETURNING unit_id, week_start
        """,
        [d.event_id for d in deltas],
        [d.unit_id for d in deltas],
        [d.week_start for d in deltas],
        [d.leave_answered for d in deltas],
        [d.leavers for d in deltas],
    )
    return {(r["unit_id"], r["week_start"]) for r in rows}


async def ancestry(conn: asyncpg.Connection, unit_id: str) -> list[str]:
    """The unit and its ancestors, nearest first. A unit the tree does not know yet stands alone."""
    rows = await conn.fetch(
        """
        WITH RECURSIVE chain AS (
            SELECT $1::text AS unit_id, 0 AS depth
            UNION ALL
            SELECT u.parent_id, c.depth + 1
            FROM alerts.org_units u JOIN chain c ON u.unit_id = c.unit_id
            WHERE u.parent_id IS NOT NULL AND c.depth < 64
        )
        SELECT unit_id FROM chain ORDER BY depth
        """,
        unit_id,
    )
    return [r["unit_id"] for r in rows]


async def window_counts(conn: asyncpg.Connection, unit_id: str, start: date, end: date) -> WindowCounts:
    row = await conn.fetchrow(
        SUBTREE_CTE.format(schema=SCHEMA)
        + """
        SELECT coalesce(sum(respondents), 0) AS respondents,
               coalesce(sum(leave_answered), 0) AS leave_answered,
               coalesce(sum(leavers), 0) AS leavers
        FROM alerts.unit_week_counts JOIN subtree USING (unit_id)
        WHERE week_start BETWEEN $2 AND $3
        """,
        unit_id,
        start,
        end,
    )
    assert row is not None
    return WindowCounts(unit_id, row["respondents"], row["leave_answered"], row["leavers"])


async def raise_alert(
    conn: asyncpg.Connection,
    alert_id: str,
    rule: str,
    decision: Decision,
    window: tuple[date, date],
    threshold: float,
) -> bool:
    """Record the alert unless one is live for this unit and rule; True when it is new."""
    inserted = await conn.fetchval(
        """
        INSERT INTO alerts.alerts
            (alert_id, rule, unit_id, window_start, window_end, respondents, value, threshold)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
        ON CONFLICT DO NOTHING
        RETURNING true
        """,
        alert_id,
        rule,
        decision.unit_id,
        window[0],
        window[1],
        decision.respondents,
        decision.value,
        threshold,
    )
    return bool(inserted)


async def claim_unpublished(conn: asyncpg.Connection, limit: int = 500) -> list[asyncpg.Record]:
    """Lock alerts not yet on ``pulse.alerts``; a sibling replica skips the ones locked here."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """
        SELECT alert_id, rule, unit_id, window_start, window_end, respondents, value, threshold,
               raised_on
        FROM alerts.alerts WHERE NOT published
        ORDER BY raised_on LIMIT $1
        FOR UPDATE SKIP LOCKED
        """,
        limit,
    )
    return rows


async def mark_published(conn: asyncpg.Connection, alert_ids: Sequence[str]) -> None:
    await conn.execute("UPDATE alerts.alerts SET published = true WHERE alert_id = ANY($1::uuid[])", alert_ids)


@dataclass(frozen=True)
class AlertRow:
    alert_id: str
    rule: str
    unit_id: str
    window_start: date
    window_end: date
    respondents: int
    value: float
    threshold: float
    status: AlertStatus
    raised_on: date


ALERT_COLUMNS = (
    "alert_id::text, rule, unit_id, window_start, window_end, respondents, value, threshold, status, raised_on"
)


async def list_alerts(pool: asyncpg.Pool, scope_units: Sequence[str], status: str | None) -> list[AlertRow]:
    """Alerts for units within the subtrees of ``scope_units``, newest first."""
    rows = await pool.fetch(
        SCOPE_CTE.format(schema=SCHEMA)
        + f"""
        SELECT {ALERT_COLUMNS} FROM alerts.alerts JOIN scope USING (unit_id)
        WHERE $2::text IS NULL OR status = $2
        ORDER BY raised_on DESC, unit_id, rule
        """,
        list(scope_units),
        status,
    )
    return [AlertRow(*r) for r in rows]


async def get_alert(pool: asyncpg.Pool, alert_id: str) -> AlertRow | None:
    row = await pool.fetchrow(f"SELECT {ALERT_COLUMNS} FROM alerts.alerts WHERE alert_id = $1::uuid", alert_id)
    return AlertRow(*row) if row else None
