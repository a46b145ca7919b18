"""Alerts' subscribers driven in memory with FastStream's ``TestKafkaBroker`` against a real
PostgreSQL: the org tree, scored responses into rollups and rules, an alert named only for a group
of at least k people, its deliveries scheduled in the same transaction, and the relay handing them
to a real webhook receiver and a real SMTP server. The same handlers run on a real broker in e2e."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker

from wellpulse.alerts import deliveries_store
from wellpulse.alerts.app import MIGRATIONS
from wellpulse.alerts.delivery.relay import DeliveryRelay
from wellpulse.alerts.delivery.schedule import RetryPolicy
from wellpulse.alerts.delivery.webhooks import WebhookSender
from wellpulse.alerts.evaluation import Evaluation
from wellpulse.alerts.handlers import register
from wellpulse.alerts.rules_file import load_rules
from wellpulse.alerts.settings import AlertsSettings
from wellpulse.alerts.store import SCHEMA
from wellpulse.common.bank import load_bank
from wellpulse.common.db import Database
from wellpulse.common.events import AlertFamilies, Envelope, OrgUnit, ResponseScored, encode, iso_week_of
from wellpulse.common.kafka import build_broker
from wellpulse.common.rollups import SubtreeRollups
from wellpulse.common.telemetry import setup_telemetry
from wellpulse.common.topics import ORG_UNITS, PULSE_SCORED
from wellpulse.devstack.receivers import WebhookReceiver

pytestmark = pytest.mark.integration

WEEK = date(2026, 11, 16)


@dataclass
class Alerts:
    broker: KafkaBroker
    database: Database
    relay: DeliveryRelay


@pytest.fixture
async def alerts(fresh_database: str) -> AsyncIterator[Alerts]:
    settings = AlertsSettings(environment="development", database_url=fresh_database, oidc_issuer="http://x")
    telemetry = setup_telemetry("alerts", settings)
    broker = build_broker(settings, telemetry, "alerts")
    database = Database(SCHEMA, MIGRATIONS)
    await database.open(settings)
    evaluation = Evaluation(load_rules(), load_bank(), 5, SubtreeRollups(SCHEMA))
    client = httpx.AsyncClient()
    relay = DeliveryRelay(
        database,
        webhooks=WebhookSender(client, development=True),
        email=None,
        sender="alerts@example.org",
        organisation="Test",
        policy=RetryPolicy(first_delay_seconds=0.1, max_delay_seconds=0.2, max_attempts=3),
        lease_seconds=30,
        registry=telemetry.registry,
    )
    register(broker, settings, telemetry, database, evaluation, on_raised=[relay.wake])
    try:
        yield Alerts(broker, database, relay)
    finally:
        await client.aclose()
        await database.close()


def unit(unit_id: str, parent: str | None, headcount: int) -> bytes:
    return encode(
        Envelope.wrap(
            OrgUnit(unit_id=unit_id, parent_id=parent, name=unit_id.title(), headcount=headcount),
            source="/t",
            subject=unit_id,
        )
    )


def scored(unit_id: str, week: date, *, leaving: bool, **families: Any) -> bytes:
    return encode(
        Envelope.wrap(
            ResponseScored(
                response_id=uuid.uuid4(),
                pulse_id="p-1",
                unit_id=unit_id,
                iso_week=iso_week_of(week),
                scoring_version="2026.2",
                scales={},
                items={},
                families=AlertFamilies(intends_to_leave=leaving, **families),
            ),
            source="/t",
            subject=unit_id,
        )
    )


async def _alerts(database: Database) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await database.pool.fetch(
        "SELECT rule, unit_id, people, window_end, findings::text FROM alerts.alerts ORDER BY unit_id, rule"
    )
    return rows


async def test_a_team_too_small_to_name_rolls_up_and_the_team_beside_it_is_not_named_either(alerts: Alerts) -> None:
    """dir = team of 6 + team of 3, all intending to leave. The team of 3 is below k; naming the
    team of 6 beside dir would give the 3 away by difference, so only dir is named."""
    async with TestKafkaBroker(alerts.broker) as br:
        for org in (unit("org", None, 0), unit("dir", "org", 0), unit("six", "dir", 6), unit("three", "dir", 3)):
            await br.publish(org, ORG_UNITS, key=b"k")
        for team, n in (("six", 6), ("three", 3)):
            for _ in range(n):
                await br.publish(scored(team, WEEK, leaving=True), PULSE_SCORED, key=team.encode())
    rows = await _alerts(alerts.database)
    # The six arrive first: with no one else in dir yet, the team of six is named (dir adds no one).
    # Once the three have answered, dir's figure minus that alert's would describe the three: so
    # dir is not named for that week, and neither is anyone else.
    assert [(r["rule"], r["unit_id"], r["people"]) for r in rows] == [("intent_to_leave", "six", 5)]


async def test_a_team_of_two_answering_every_week_is_never_named(alerts: Alerts) -> None:
    async with TestKafkaBroker(alerts.broker) as br:
        for org in (unit("org", None, 0), unit("pair", "org", 2), unit("big", "org", 9)):
            await br.publish(org, ORG_UNITS, key=b"k")
        for week in range(8):
            for _ in range(2):
                await br.publish(scored("pair", WEEK + timedelta(weeks=week), leaving=True), PULSE_SCORED, key=b"pair")
            for _ in range(5):
                await br.publish(scored("big", WEEK + timedelta(weeks=week), leaving=False), PULSE_SCORED, key=b"big")
    rows = await _alerts(alerts.database)
    assert "pair" not in {r["unit_id"] for r in rows}
    # Two of seven each week intend to leave: 29%, below the 50% threshold at the root too.
    assert rows == []


async def test_an_alert_schedules_its_deliveries_and_the_relay_hands_them_over(alerts: Alerts) -> None:
    with WebhookReceiver(fail_first=1) as receiver:
        async with alerts.database.transaction() as conn:
            await deliveries_store.replace_contacts(
                conn,
                [
                    deliveries_store.Contact("hr", "HR", None, receiver.url, (receiver.secret,), ("org",)),
                    deliveries_store.Contact("elsewhere", "Other HR", None, receiver.url, (receiver.secret,), ("x",)),
                ],
            )
        async with TestKafkaBroker(alerts.broker) as br:
            for org in (unit("org", None, 0), unit("team", "org", 8)):
                await br.publish(org, ORG_UNITS, key=b"k")
            for _ in range(6):
                await br.publish(scored("team", WEEK, leaving=True), PULSE_SCORED, key=b"team")
        [alert] = await _alerts(alerts.database)
        [due] = await deliveries_store.deliveries_of(alerts.database.pool, str(await _id(alerts.database)))
        assert (due.contact_id, due.channel, due.status) == ("hr", "webhook", "pending")

        assert await alerts.relay.deliver_due() == 1  # the receiver answers 503 the first time
        [retrying] = await deliveries_store.deliveries_of(alerts.database.pool, str(await _id(alerts.database)))
        assert (retrying.status, retrying.attempts, retrying.last_status) == ("pending", 1, 503)
        deadline = time.monotonic() + 10
        while await alerts.relay.deliver_due() == 0:  # the retry is due 50-100 ms later
            assert time.monotonic() < deadline, "the retry never came due"
            await asyncio.sleep(0.02)
        [done] = await deliveries_store.deliveries_of(alerts.database.pool, str(await _id(alerts.database)))
        assert (done.status, done.attempts) == ("delivered", 2)
        [delivered] = receiver.by_id.values()
        assert delivered.webhook_id == str(await _id(alerts.database))
        assert delivered.body["data"]["unit_id"] == "team"
        # Raised the moment the fifth answer made the team nameable; its figures stay as raised.
        assert delivered.body["data"]["people"] == 5
    assert alert["rule"] == "intent_to_leave"


async def _id(database: Database) -> uuid.UUID:
    value: uuid.UUID = await database.pool.fetchval("SELECT alert_id FROM alerts.alerts")
    return value
