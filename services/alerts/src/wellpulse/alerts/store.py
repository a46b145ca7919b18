"""Alerts' SQL: events applied, the tree the rules climb, alerts and their history."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from wellpulse.alerts.lifecycle import Latest, Status
from wellpulse.alerts.rules import Finding
from wellpulse.common.orgtree import SCOPE_CTE

SCHEMA = "alerts"


async def fresh_events(conn: asyncpg.Connection, event_ids: Sequence[str]) -> set[str]:
    """Record the events; returns those never applied before (a redelivery is absorbed here)."""
    rows = await conn.fetch(
        "INSERT INTO alerts.applied_events (event_id) SELECT unnest($1::uuid[]) ON CONFLICT DO NOTHING "
        "RETURNING event_id::text",
        list(event_ids),
    )
    return {r["event_id"] for r in rows}


async def latest_alert(conn: asyncpg.Connection, unit_id: str, rule: str) -> Latest | None:
    row = await conn.fetchrow(
        """
        SELECT alert_id::text, status, resolved_at FROM alerts.alerts WHERE unit_id = $1 AND rule = $2
        ORDER BY raised_at DESC LIMIT 1
        """,
        unit_id,
        rule,
    )
    if row is None:
        return None
    resolved = row["resolved_at"].date() if row["resolved_at"] else None
    return Latest(row["alert_id"], Status(row["status"]), resolved)


@dataclass(frozen=True)
class NewAlert:
    alert_id: str
    rule: str
    family: str
    unit_id: str
    unit_name: str
    title: str
    window_start: date
    window_end: date
    people: int
    findings: tuple[Finding, ...]
    # measure -> ISO week -> how many contributed: what the figures disclose.
    disclosed: dict[str, dict[str, int]]
    first_step: str
    changes: tuple[str, ...]
    follows: str | None


def _findings_json(findings: Sequence[Finding]) -> str:
    return json.dumps(
        [{"clause": f.clause, "value": f.value, "threshold": f.threshold, "text": f.text} for f in findings]
    )


async def insert_alert(conn: asyncpg.Connection, alert: NewAlert) -> bool:
    """Record a new alert and its first history line; False when it exists already (a replay)."""
    inserted = await conn.fetchval(
        """
        INSERT INTO alerts.alerts (alert_id, rule, family, unit_id, unit_name, still_holds_week,
            window_start, window_end, people, findings, first_step, changes, follows, title, disclosed)
        VALUES ($1, $2, $3, $4, $5, $7, $6, $7, $8, $9::jsonb, $10, $11, $12, $13, $14::jsonb)
        ON CONFLICT DO NOTHING RETURNING true
        """,
        alert.alert_id,
        alert.rule,
        alert.family,
        alert.unit_id,
        alert.unit_name,
        alert.window_start,
        alert.window_end,
        alert.people,
        _findings_json(alert.findings),
        alert.first_step,
        list(alert.changes),
        alert.follows,
        alert.title,
        json.dumps(alert.disclosed),
    )
    if inserted:
        await add_event(conn, alert.alert_id, "system", "raised", None)
    return bool(inserted)


async def still_holds(conn: asyncpg.Connection, alert_id: str, week: date) -> None:
    """The condition of a live alert held again in a window ending ``week``; its figures stay as raised."""
    await conn.execute(
        "UPDATE alerts.alerts SET still_holds_week = greatest(still_holds_week, $2) WHERE alert_id = $1::uuid",
        alert_id,
        week,
    )


@dataclass(frozen=True)
class Disclosure:
    unit_id: str
    disclosed: dict[str, dict[str, int]]


async def disclosures(conn: asyncpg.Connection, rule: str, units: Collection[str]) -> list[Disclosure]:
    """What earlier alerts of ``rule`` for these units disclosed, whatever their status."""
    rows = await conn.fetch(
        "SELECT unit_id, disclosed::text FROM alerts.alerts WHERE rule = $1 AND unit_id = ANY($2::text[])",
        rule,
        list(units),
    )
    return [Disclosure(r["unit_id"], json.loads(r["disclosed"])) for r in rows]


async def subtree(conn: asyncpg.Connection, unit_id: str) -> list[str]:
    """The unit and every unit below it."""
    rows = await conn.fetch(SCOPE_CTE.format(schema=SCHEMA) + "SELECT unit_id FROM scope", [unit_id])
    return [r["unit_id"] for r in rows]


async def add_event(conn: asyncpg.Connection, alert_id: str, actor: str, action: str, note: str | None) -> None:
    await conn.execute(
        """
        INSERT INTO alerts.alert_events (alert_id, seq, actor, action, note, published)
        SELECT $1, coalesce(max(seq), 0) + 1, $2, $3, $4, $3 = 'raised'
        FROM alerts.alert_events WHERE alert_id = $1
        """,
        alert_id,
        actor,
        action,
        note,
    )


@dataclass(frozen=True)
class AlertRow:
    alert_id: str
    rule: str
    family: str
    unit_id: str
    unit_name: str
    title: str
    still_holds_week: date
    window_start: date
    window_end: date
    people: int
    findings: list[dict[str, Any]]
    first_step: str
    changes: list[str]
    status: Status
    raised_at: datetime
    resolved_at: datetime | None
    resolution_note: str | None
    follows: str | None


ALERT_COLUMNS = """alert_id::text, rule, family, unit_id, unit_name, title, still_holds_week, window_start, window_end,
    people, findings::text, first_step, changes, status, raised_at, resolved_at, resolution_note, follows::text"""


def _alert(row: asyncpg.Record) -> AlertRow:
    values = dict(row)
    values["findings"] = json.loads(values["findings"])
    values["status"] = Status(values["status"])
    return AlertRow(**values)


async def list_alerts(
    pool: asyncpg.Pool | asyncpg.Connection,
    scope_units: Sequence[str],
    *,
    status: Status | None = None,
    family: str | None = None,
    unit_id: str | None = None,
    limit: int = 200,
) -> list[AlertRow]:
    """Alerts for units within the subtrees of ``scope_units``, newest first."""
    rows = await pool.fetch(
        SCOPE_CTE.format(schema=SCHEMA)
        + f"""
        SELECT {ALERT_COLUMNS} FROM alerts.alerts JOIN scope USING (unit_id)
        WHERE ($2::text IS NULL OR status = $2) AND ($3::text IS NULL OR family = $3)
          AND ($4::text IS NULL OR unit_id = $4)
        ORDER BY raised_at DESC, unit_id, rule
        LIMIT $5
        """,
        list(scope_units),
        status.value if status else None,
        family,
        unit_id,
        limit,
    )
    return [_alert(r) for r in rows]


async def get_alert(conn: asyncpg.Pool | asyncpg.Connection, alert_id: str, *, lock: bool = False) -> AlertRow | None:
    row = await conn.fetchrow(
        f"SELECT {ALERT_COLUMNS} FROM alerts.alerts WHERE alert_id = $1::uuid" + (" FOR UPDATE" if lock else ""),
        alert_id,
    )
    return _alert(row) if row else None


@dataclass(frozen=True)
class EventRow:
    seq: int
    at: datetime
    actor: str
    action: str
    note: str | None


async def history(pool: asyncpg.Pool | asyncpg.Connection, alert_id: str) -> list[EventRow]:
    rows = await pool.fetch(
        "SELECT seq, at, actor, action, note FROM alerts.alert_events WHERE alert_id = $1::uuid ORDER BY seq",
        alert_id,
    )
    return [EventRow(**dict(r)) for r in rows]


async def set_status(conn: asyncpg.Connection, alert_id: str, status: Status, note: str | None) -> None:
    await conn.execute(
        """
        UPDATE alerts.alerts SET status = $2,
            resolved_at = CASE WHEN $2 = 'resolved' THEN now() ELSE resolved_at END,
            resolution_note = CASE WHEN $2 = 'resolved' THEN $3 ELSE resolution_note END
        WHERE alert_id = $1::uuid
        """,
        alert_id,
        status.value,
        note,
    )


async def claim_unpublished(conn: asyncpg.Connection, limit: int = 500) -> list[AlertRow]:
    """Lock alerts not yet on ``pulse.alerts``; a sibling replica skips the ones locked here."""
    rows = await conn.fetch(
        f"""
        SELECT {ALERT_COLUMNS} FROM alerts.alerts WHERE NOT published
        ORDER BY raised_at LIMIT $1 FOR UPDATE SKIP LOCKED
        """,
        limit,
    )
    return [_alert(r) for r in rows]


async def mark_published(conn: asyncpg.Connection, alert_ids: Sequence[str]) -> None:
    await conn.execute("UPDATE alerts.alerts SET published = true WHERE alert_id = ANY($1::uuid[])", list(alert_ids))


@dataclass(frozen=True)
class StatusChange:
    """An acknowledgement or resolution not yet on ``pulse.alerts`` (never who made it, nor the note)."""

    alert_id: str
    seq: int
    rule: str
    family: str
    unit_id: str
    status: str


async def claim_unpublished_changes(conn: asyncpg.Connection, limit: int = 500) -> list[StatusChange]:
    """Lock transitions of alerts already on the topic and not yet published themselves, oldest first."""
    rows = await conn.fetch(
        """
        SELECT e.alert_id::text AS alert_id, e.seq, a.rule, a.family, a.unit_id, e.action
        FROM alerts.alert_events e JOIN alerts.alerts a USING (alert_id)
        WHERE NOT e.published AND a.published
        ORDER BY e.at, e.alert_id, e.seq LIMIT $1 FOR UPDATE OF e SKIP LOCKED
        """,
        limit,
    )
    return [StatusChange(r["alert_id"], r["seq"], r["rule"], r["family"], r["unit_id"], r["action"]) for r in rows]


async def mark_changes_published(conn: asyncpg.Connection, changes: Sequence[StatusChange]) -> None:
    await conn.execute(
        """
        UPDATE alerts.alert_events e SET published = true
        FROM unnest($1::uuid[], $2::int[]) AS c(alert_id, seq)
        WHERE e.alert_id = c.alert_id AND e.seq = c.seq
        """,
        [c.alert_id for c in changes],
        [c.seq for c in changes],
    )
