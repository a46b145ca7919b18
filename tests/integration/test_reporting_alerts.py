"""Reporting's ``pulse.alerts`` subscriber driven in memory with FastStream's ``TestKafkaBroker``
against a real PostgreSQL: alerts raised and handled become counts by family for each subtree, and
redelivered, reordered or early records change nothing they should not. The same handler runs on a
real broker in e2e (tests/e2e/test_access.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker

from wellpulse.common.db import Database
from wellpulse.common.events import (
    AlertFinding,
    AlertRaised,
    AlertStatusChanged,
    Envelope,
    OrgUnit,
    encode,
    iso_week_of,
)
from wellpulse.common.kafka import build_broker
from wellpulse.common.rollups import SubtreeRollups
from wellpulse.common.telemetry import setup_telemetry
from wellpulse.common.topics import ORG_UNITS, PULSE_ALERTS
from wellpulse.reporting import alert_counts, alerts_store
from wellpulse.reporting.app import MIGRATIONS
from wellpulse.reporting.handlers import register
from wellpulse.reporting.read_model import ReadModel
from wellpulse.reporting.settings import ReportingSettings
from wellpulse.reporting.store import SCHEMA

pytestmark = pytest.mark.integration

WEEK = date(2026, 11, 16)


@dataclass
class Reporting:
    broker: KafkaBroker
    database: Database
    rollups: SubtreeRollups


@pytest.fixture
async def reporting(fresh_database: str) -> AsyncIterator[Reporting]:
    settings = ReportingSettings(environment="development", database_url=fresh_database, oidc_issuer="http://x")
    telemetry = setup_telemetry("reporting", settings)
    broker = build_broker(settings, telemetry, "reporting")
    database = Database(SCHEMA, MIGRATIONS)
    await database.open(settings)
    model = ReadModel.in_schema(SCHEMA)
    rollups = model.rollups
    register(broker, settings, telemetry, database, model)
    try:
        yield Reporting(broker, database, rollups)
    finally:
        await database.close()


def unit(unit_id: str, parent: str | None) -> bytes:
    org = OrgUnit(unit_id=unit_id, parent_id=parent, name=unit_id.title(), headcount=6)
    return encode(Envelope.wrap(org, source="/t", subject=unit_id))


def raised(alert_id: uuid.UUID, unit_id: str, family: str) -> bytes:
    alert = AlertRaised(
        alert_id=alert_id,
        rule=family,
        family=family,
        unit_id=unit_id,
        title="t",
        window_start_week=iso_week_of(WEEK),
        window_end_week=iso_week_of(WEEK),
        people=5,
        findings=[AlertFinding(clause="c", value=1.0, threshold=0.5, text="t")],
        first_step="s",
        changes=[],
    )
    return encode(Envelope.wrap(alert, source="/t", subject=unit_id, event_id=alert_id))


def handled(alert_id: uuid.UUID, unit_id: str, family: str, status: str, seq: int) -> bytes:
    change = AlertStatusChanged(
        alert_id=alert_id,
        rule=family,
        family=family,
        unit_id=unit_id,
        status=status,
        seq=seq,  # type: ignore[arg-type]
    )
    return encode(Envelope.wrap(change, source="/t", subject=unit_id))


async def counts(reporting: Reporting, unit_id: str) -> dict[str, tuple[int, int, int]]:
    """What the API answers: (open, acknowledged, raised) per family with any alert."""
    alerts = await alerts_store.alerts_live_or_within(reporting.database.pool, SCHEMA, WEEK, WEEK)
    chains = await reporting.rollups.chains(reporting.database.pool, {a.unit_id for a in alerts})
    found = alert_counts.count_alerts(alerts, chains, unit_id, WEEK, WEEK)
    return {f: (c.open, c.acknowledged, c.raised) for f, c in found.items() if c.raised or c.open or c.acknowledged}


async def test_alerts_raised_and_handled_are_counted_for_each_subtree_once(reporting: Reporting) -> None:
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with TestKafkaBroker(reporting.broker) as br:
        for org in (unit("org", None), unit("dir", "org"), unit("one", "dir"), unit("two", "dir"), unit("far", "org")):
            await br.publish(org, ORG_UNITS, key=b"k")
        await br.publish(raised(a, "one", "bullying"), PULSE_ALERTS, key=b"one")
        await br.publish(raised(b, "two", "caseload"), PULSE_ALERTS, key=b"two")
        await br.publish(raised(c, "far", "bullying"), PULSE_ALERTS, key=b"far")
        await br.publish(handled(a, "one", "bullying", "acknowledged", 2), PULSE_ALERTS, key=b"one")
        await br.publish(handled(b, "two", "caseload", "acknowledged", 2), PULSE_ALERTS, key=b"two")
        await br.publish(handled(b, "two", "caseload", "resolved", 3), PULSE_ALERTS, key=b"two")
        # Delivered again, and out of turn: neither reopens nor un-resolves anything.
        await br.publish(raised(a, "one", "bullying"), PULSE_ALERTS, key=b"one")
        await br.publish(handled(b, "two", "caseload", "acknowledged", 2), PULSE_ALERTS, key=b"two")
        await br.publish(b'{"type": "org.wellpulse.unheard-of"}', PULSE_ALERTS, key=b"x")  # dead-lettered

    assert await counts(reporting, "dir") == {"bullying": (0, 1, 1), "caseload": (0, 0, 1)}
    assert await counts(reporting, "one") == {"bullying": (0, 1, 1)}
    assert await counts(reporting, "org") == {"bullying": (1, 1, 2), "caseload": (0, 0, 1)}
    assert await counts(reporting, "far") == {"bullying": (1, 0, 1)}
    every = alert_counts.count_alerts([], {}, "org", WEEK, WEEK)
    assert set(every) == {"bullying", "caseload", "intent_to_leave"}  # every family, with nothing raised


async def test_handling_seen_before_the_alert_itself_keeps_its_status(reporting: Reporting) -> None:
    a = uuid.uuid4()
    async with TestKafkaBroker(reporting.broker) as br:
        await br.publish(unit("org", None), ORG_UNITS, key=b"k")
        await br.publish(handled(a, "org", "intent_to_leave", "resolved", 3), PULSE_ALERTS, key=b"org")
        await br.publish(raised(a, "org", "intent_to_leave"), PULSE_ALERTS, key=b"org")

    assert await counts(reporting, "org") == {"intent_to_leave": (0, 0, 1)}
