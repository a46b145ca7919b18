"""Intake's SQL: the org tree as imported, and the weekly rounds."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from wellpulse.common.events import OrgUnit
from wellpulse.intake.roster import RosterEntry

SCHEMA = "intake"
ROUND_COLUMNS = "pulse_id, iso_week, items, bank_version, status, links_issued"


class UnitsStillStaffed(Exception):
    """The new tree drops units that people on the roster still belong to."""

    def __init__(self, people: dict[str, int]) -> None:
        super().__init__(f"{len(people)} unit(s) to remove still have people on the roster")
        self.people = people


@dataclass(frozen=True)
class OrgChanges:
    upserted: list[OrgUnit]
    removed: list[str]
    unchanged: int


async def replace_org_tree(conn: asyncpg.Connection, units: Sequence[OrgUnit]) -> OrgChanges:
    """Make the stored tree equal ``units``; returns what changed. Runs inside the caller's
    transaction, which holds the table lock so two imports never interleave."""
    await conn.execute("LOCK TABLE intake.org_units IN EXCLUSIVE MODE")
    current = {
        r["unit_id"]: OrgUnit(unit_id=r["unit_id"], parent_id=r["parent_id"], name=r["name"], headcount=r["headcount"])
        for r in await conn.fetch("SELECT unit_id, parent_id, name, headcount FROM intake.org_units")
    }
    wanted = {u.unit_id: u for u in units}
    upserted = [u for u in units if current.get(u.unit_id) != u]
    removed = sorted(set(current) - set(wanted))
    staffed = await conn.fetch(
        "SELECT unit_id, count(*) AS people FROM intake.roster WHERE unit_id = ANY($1::text[]) "
        "GROUP BY unit_id ORDER BY unit_id",
        removed,
    )
    if staffed:
        raise UnitsStillStaffed({r["unit_id"]: r["people"] for r in staffed})
    await conn.executemany(
        """
        INSERT INTO intake.org_units (unit_id, parent_id, name, headcount) VALUES ($1, $2, $3, $4)
        ON CONFLICT (unit_id) DO UPDATE SET parent_id = excluded.parent_id, name = excluded.name,
            headcount = excluded.headcount
        """,
        [(u.unit_id, u.parent_id, u.name, u.headcount) for u in upserted],
    )
    await conn.execute("DELETE FROM intake.org_units WHERE unit_id = ANY($1::text[])", removed)
    return OrgChanges(upserted, removed, len(units) - len(upserted))


@dataclass(frozen=True)
class Round:
    pulse_id: str
    iso_week: str
    items: tuple[str, ...]
    bank_version: str
    status: str
    links_issued: int


async def open_round(
    pool: asyncpg.Pool, pulse_id: str, iso_week: str, items: Sequence[str], bank_version: str
) -> tuple[Round, bool]:
    """Open the week's round, or return the one already open; True when it is new."""
    row = await pool.fetchrow(
        """
        INSERT INTO intake.rounds (pulse_id, iso_week, items, bank_version) VALUES ($1, $2, $3, $4)
        ON CONFLICT (iso_week) DO NOTHING
        RETURNING pulse_id, iso_week, items, bank_version, status, links_issued
        """,
        pulse_id,
        iso_week,
        list(items),
        bank_version,
    )
    if row is not None:
        return _round(row), True
    existing = await pool.fetchrow(
        f"SELECT {ROUND_COLUMNS} FROM intake.rounds WHERE iso_week = $1",
        iso_week,
    )
    assert existing is not None
    return _round(existing), False


async def get_round(pool: asyncpg.Pool, pulse_id: str) -> Round | None:
    row = await pool.fetchrow(
        f"SELECT {ROUND_COLUMNS} FROM intake.rounds WHERE pulse_id = $1",
        pulse_id,
    )
    return _round(row) if row else None


def _round(row: asyncpg.Record) -> Round:
    return Round(
        row["pulse_id"],
        row["iso_week"],
        tuple(row["items"]),
        row["bank_version"],
        row["status"],
        row["links_issued"],
    )


async def known_unit_ids(pool: asyncpg.Pool) -> set[str]:
    return {r["unit_id"] for r in await pool.fetch("SELECT unit_id FROM intake.org_units")}


async def replace_roster(conn: asyncpg.Connection, entries: Sequence[RosterEntry]) -> RosterChanges:
    await conn.execute("LOCK TABLE intake.roster IN EXCLUSIVE MODE")
    current = {r["email"]: r["unit_id"] for r in await conn.fetch("SELECT email, unit_id FROM intake.roster")}
    wanted = {e.email: e.unit_id for e in entries}
    changed = [(email, unit) for email, unit in wanted.items() if current.get(email) != unit]
    removed = sorted(set(current) - set(wanted))
    await conn.executemany(
        """
        INSERT INTO intake.roster (email, unit_id) VALUES ($1, $2)
        ON CONFLICT (email) DO UPDATE SET unit_id = excluded.unit_id
        """,
        changed,
    )
    await conn.execute("DELETE FROM intake.roster WHERE email = ANY($1::text[])", removed)
    return RosterChanges(len(changed), len(removed), len(entries) - len(changed))


@dataclass(frozen=True)
class RosterChanges:
    added_or_moved: int
    removed: int
    unchanged: int


async def roster(pool: asyncpg.Pool, emails: Sequence[str] | None = None) -> list[RosterEntry]:
    rows = await pool.fetch(
        "SELECT email, unit_id FROM intake.roster WHERE $1::text[] IS NULL OR email = ANY($1::text[])",
        list(emails) if emails is not None else None,
    )
    return [RosterEntry(r["email"], r["unit_id"]) for r in rows]


async def store_links(conn: asyncpg.Connection, pulse_id: str, links: Sequence[tuple[bytes, str]]) -> None:
    """Keep (hash, round, unit) for each minted link; the caller has already shuffled them."""
    await conn.copy_records_to_table(
        "links",
        schema_name=SCHEMA,
        columns=["token_hash", "pulse_id", "unit_id"],
        records=[(token_hash, pulse_id, unit_id) for token_hash, unit_id in links],
    )
    await conn.execute(
        "UPDATE intake.rounds SET links_issued = links_issued + $2 WHERE pulse_id = $1",
        pulse_id,
        len(links),
    )


async def close_round(pool: asyncpg.Pool, pulse_id: str) -> Round | None:
    row = await pool.fetchrow(
        """
        UPDATE intake.rounds SET status = 'closed', closed_on = coalesce(closed_on, current_date)
        WHERE pulse_id = $1
        RETURNING pulse_id, iso_week, items, bank_version, status, links_issued
        """,
        pulse_id,
    )
    return _round(row) if row else None


@dataclass(frozen=True)
class Link:
    pulse: Round
    unit_id: str
    spent: bool


LINK_COLUMNS = "l.unit_id, l.spent_on, r.pulse_id, r.iso_week, r.items, r.bank_version, r.status, r.links_issued"


async def find_link(pool: asyncpg.Pool, token_hash: bytes) -> Link | None:
    """The link and its round, as they are now (no lock: opening a form never waits on a submission)."""
    row = await pool.fetchrow(
        f"SELECT {LINK_COLUMNS} FROM intake.links l JOIN intake.rounds r USING (pulse_id) WHERE l.token_hash = $1",
        token_hash,
    )
    return _link(row) if row else None


@dataclass(frozen=True)
class Claim:
    """What claiming a link found: the link as it was (None: unknown), and the claim's time when this
    call took it (None: closed, spent, or another submission's claim is still fresh)."""

    link: Link | None
    claimed_at: datetime | None


async def claim_link(pool: asyncpg.Pool, token_hash: bytes, stale_after_seconds: float) -> Claim:
    """Claim an open, unspent link for one submission, in one statement; a claim older than
    ``stale_after_seconds`` (its holder crashed or hung) is taken over. Of many concurrent claims
    exactly one succeeds: the others wait on the row for the length of this statement only."""
    row = await pool.fetchrow(
        f"""
        WITH claimed AS (
            UPDATE intake.links l SET claimed_at = clock_timestamp()
            FROM intake.rounds r
            WHERE l.token_hash = $1 AND r.pulse_id = l.pulse_id AND r.status = 'open' AND l.spent_on IS NULL
              AND (l.claimed_at IS NULL OR l.claimed_at < clock_timestamp() - make_interval(secs => $2))
            RETURNING l.claimed_at
        )
        SELECT {LINK_COLUMNS}, (SELECT claimed_at FROM claimed) AS taken
        FROM intake.links l JOIN intake.rounds r USING (pulse_id)
        WHERE l.token_hash = $1
        """,
        token_hash,
        stale_after_seconds,
    )
    # The outer query sees the row as the statement found it, before any claim: a link that looks
    # open and unspent but was not taken is being sent by another submission.
    return Claim(_link(row), row["taken"]) if row else Claim(None, None)


async def spend_link(pool: asyncpg.Pool, token_hash: bytes) -> None:
    """Mark the link used (the day only) and drop its claim."""
    await pool.execute(
        "UPDATE intake.links SET spent_on = current_date, claimed_at = NULL WHERE token_hash = $1", token_hash
    )


async def release_link(pool: asyncpg.Pool, token_hash: bytes, claimed_at: datetime) -> None:
    """Give the link back unspent, if the claim is still this one (not taken over since)."""
    await pool.execute(
        "UPDATE intake.links SET claimed_at = NULL WHERE token_hash = $1 AND claimed_at = $2 AND spent_on IS NULL",
        token_hash,
        claimed_at,
    )


def _link(row: asyncpg.Record) -> Link:
    return Link(_round(row), row["unit_id"], row["spent_on"] is not None)


async def signposts_document(pool: asyncpg.Pool) -> str | None:
    value: str | None = await pool.fetchval("SELECT document::text FROM intake.signposts")
    return value


async def save_signposts(pool: asyncpg.Pool, document: str) -> None:
    await pool.execute(
        """
        INSERT INTO intake.signposts (singleton, document) VALUES (true, $1::jsonb)
        ON CONFLICT (singleton) DO UPDATE SET document = excluded.document
        """,
        document,
    )


def new_pulse_id(iso_week: str) -> str:
    return f"p-{iso_week}-{uuid.uuid4().hex[:8]}"


async def open_or_current_rounds(pool: asyncpg.Pool, iso_week: str) -> list[Round]:
    rows = await pool.fetch(
        f"SELECT {ROUND_COLUMNS} FROM intake.rounds WHERE status = 'open' OR iso_week = $1", iso_week
    )
    return [_round(r) for r in rows]
