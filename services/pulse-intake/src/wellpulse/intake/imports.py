"""Importing the org tree and the roster: checked whole, written whole, or not at all."""

from __future__ import annotations

from typing import Any

from faststream.kafka.publisher.usecase import DefaultPublisher

from wellpulse.common.db import Database
from wellpulse.common.events import Envelope, OrgUnit
from wellpulse.intake import store
from wellpulse.intake.publishing import publish_or_fail
from wellpulse.intake.roster import parse_roster

SOURCE = "/wellpulse/pulse-intake"


async def import_org_tree(
    database: Database, org_out: DefaultPublisher, units: list[OrgUnit], publish_timeout: float
) -> store.OrgChanges:
    """Make the stored tree equal ``units`` and publish what changed to ``org.units``.

    Published before the commit, inside one unit of work: if the broker does not acknowledge
    (``BrokerUnavailable``) or people still belong to a unit the file drops (``UnitsStillStaffed``),
    nothing is stored and the import can simply be repeated.
    """
    async with database.transaction() as conn:
        changes = await store.replace_org_tree(conn, units)
        events: list[tuple[str, Envelope[Any] | None]] = [
            (u.unit_id, Envelope.wrap(u, source=SOURCE, subject=u.unit_id)) for u in changes.upserted
        ]
        events += [(unit_id, None) for unit_id in changes.removed]  # tombstones
        await publish_or_fail(org_out, events, publish_timeout)
    return changes


async def import_roster(database: Database, text: str, media_type: str) -> tuple[int, store.RosterChanges]:
    """Check the roster against the tree (``FileInvalid`` names every bad row), then replace it."""
    entries = parse_roster(text, media_type, await store.known_unit_ids(database.pool))
    async with database.transaction() as conn:
        return len(entries), await store.replace_roster(conn, entries)
