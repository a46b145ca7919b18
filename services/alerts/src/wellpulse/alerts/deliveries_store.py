"""Alerts' SQL for telling HR: the contacts alerts go to, and the delivery outbox the relay works off."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from wellpulse.common.events import derived_id


@dataclass(frozen=True)
class Contact:
    contact_id: str
    name: str
    email: str | None
    webhook_url: str | None
    webhook_secrets: tuple[str, ...]
    units: tuple[str, ...]


async def replace_contacts(conn: asyncpg.Connection, contacts: Sequence[Contact]) -> tuple[int, int]:
    """Make the stored contacts equal ``contacts``; returns (kept or added, removed). Deliveries
    already scheduled for a removed contact still go out: they were due when the alert was raised."""
    await conn.execute("LOCK TABLE alerts.contacts IN EXCLUSIVE MODE")
    removed = await conn.fetchval(
        "WITH gone AS (DELETE FROM alerts.contacts WHERE NOT contact_id = ANY($1::text[]) RETURNING 1) "
        "SELECT count(*) FROM gone",
        [c.contact_id for c in contacts],
    )
    await conn.executemany(
        """
        INSERT INTO alerts.contacts (contact_id, name, email, webhook_url, webhook_secrets, units)
        VALUES ($1, $2, $3, $4, $5, $6)
        ON CONFLICT (contact_id) DO UPDATE SET name = excluded.name, email = excluded.email,
            webhook_url = excluded.webhook_url, webhook_secrets = excluded.webhook_secrets, units = excluded.units
        """,
        [(c.contact_id, c.name, c.email, c.webhook_url, list(c.webhook_secrets), list(c.units)) for c in contacts],
    )
    return len(contacts), int(removed or 0)


async def contacts(conn: asyncpg.Connection | asyncpg.Pool, covering: Sequence[str] | None = None) -> list[Contact]:
    """Every contact, or those whose units include one of ``covering`` (an alert's unit and its ancestors)."""
    rows = await conn.fetch(
        """
        SELECT contact_id, name, email, webhook_url, webhook_secrets, units FROM alerts.contacts
        WHERE $1::text[] IS NULL OR units && $1::text[] ORDER BY contact_id
        """,
        list(covering) if covering is not None else None,
    )
    return [
        Contact(
            r["contact_id"], r["name"], r["email"], r["webhook_url"], tuple(r["webhook_secrets"]), tuple(r["units"])
        )
        for r in rows
    ]


async def schedule(conn: asyncpg.Connection, alert_id: str, to: Sequence[Contact]) -> int:
    """One delivery per channel of each contact, in the alert's own transaction (the outbox)."""
    rows = [
        (str(derived_id("delivery", alert_id, c.contact_id, channel)), alert_id, c.contact_id, channel, target)
        for c in to
        for channel, target in (("email", c.email), ("webhook", c.webhook_url))
        if target
    ]
    await conn.executemany(
        """
        INSERT INTO alerts.deliveries (delivery_id, alert_id, contact_id, channel, target)
        VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING
        """,
        rows,
    )
    return len(rows)


@dataclass(frozen=True)
class Due:
    delivery_id: str
    alert_id: str
    contact_id: str
    channel: str
    target: str
    attempts: int
    # The contact's current secrets (rotation may have added one since the alert was raised).
    webhook_secrets: tuple[str, ...]


async def claim_due(conn: asyncpg.Connection, now: datetime, lease_seconds: float, limit: int) -> list[Due]:
    """Lease deliveries that are due; another replica skips them, and a crashed one's lease runs out."""
    rows = await conn.fetch(
        """
        WITH due AS (
            SELECT delivery_id FROM alerts.deliveries
            WHERE status = 'pending' AND next_attempt_at <= $1 AND (leased_until IS NULL OR leased_until < $1)
            ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED
        ), leased AS (
            UPDATE alerts.deliveries d SET leased_until = $1 + make_interval(secs => $2)
            FROM due WHERE d.delivery_id = due.delivery_id
            RETURNING d.delivery_id, d.alert_id, d.contact_id, d.channel, d.target, d.attempts
        )
        SELECT l.delivery_id::text, l.alert_id::text, l.contact_id, l.channel, l.target, l.attempts,
            coalesce(c.webhook_secrets, '{}') AS webhook_secrets
        FROM leased l LEFT JOIN alerts.contacts c USING (contact_id)
        """,
        now,
        lease_seconds,
        limit,
    )
    return [Due(**{**dict(r), "webhook_secrets": tuple(r["webhook_secrets"])}) for r in rows]


async def delivered(conn: asyncpg.Connection, delivery_id: str, status: int | None, at: datetime) -> None:
    await conn.execute(
        """
        UPDATE alerts.deliveries SET status = 'delivered', attempts = attempts + 1, last_status = $2,
            last_error = NULL, delivered_at = $3, leased_until = NULL
        WHERE delivery_id = $1::uuid
        """,
        delivery_id,
        status,
        at,
    )


async def retry_at(
    conn: asyncpg.Connection, delivery_id: str, status: int | None, error: str | None, when: datetime | None
) -> None:
    """Schedule the next attempt, or mark the delivery failed when ``when`` is None (gave up)."""
    await conn.execute(
        """
        UPDATE alerts.deliveries SET attempts = attempts + 1, last_status = $2, last_error = $3,
            next_attempt_at = coalesce($4, next_attempt_at), leased_until = NULL,
            status = CASE WHEN $4::timestamptz IS NULL THEN 'failed' ELSE 'pending' END
        WHERE delivery_id = $1::uuid
        """,
        delivery_id,
        status,
        error,
        when,
    )


@dataclass(frozen=True)
class DeliveryRow:
    delivery_id: str
    contact_id: str
    channel: str
    target: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status: int | None
    last_error: str | None
    delivered_at: datetime | None


async def deliveries_of(conn: asyncpg.Connection | asyncpg.Pool, alert_id: str) -> list[DeliveryRow]:
    rows = await conn.fetch(
        """
        SELECT delivery_id::text, contact_id, channel, target, status, attempts, next_attempt_at, last_status,
            last_error, delivered_at
        FROM alerts.deliveries WHERE alert_id = $1::uuid ORDER BY contact_id, channel
        """,
        alert_id,
    )
    return [DeliveryRow(**dict(r)) for r in rows]


def new_contact_id() -> str:
    return uuid.uuid4().hex[:12]
