"""Reporting's ``pulse.scored`` subscriber driven in memory with FastStream's ``TestKafkaBroker``
against a real PostgreSQL: a batch of scored responses (several units, a duplicate inside it) lands
in the own and subtree rollups once, and the whole batch delivered again changes nothing. The same
handler runs on a real broker in e2e (tests/e2e/test_flow.py)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker

from wellpulse.common.db import Database
from wellpulse.common.events import AlertFamilies, Envelope, OrgUnit, ResponseScored, encode, iso_week_of
from wellpulse.common.kafka import build_broker
from wellpulse.common.telemetry import setup_telemetry
from wellpulse.common.topics import ORG_UNITS, PULSE_SCORED
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


@pytest.fixture
async def reporting(fresh_database: str) -> AsyncIterator[Reporting]:
    settings = ReportingSettings(environment="development", database_url=fresh_database, oidc_issuer="http://x")
    telemetry = setup_telemetry("reporting", settings)
    broker = build_broker(settings, telemetry, "reporting")
    database = Database(SCHEMA, MIGRATIONS)
    await database.open(settings)
    register(broker, settings, telemetry, database, ReadModel.in_schema(SCHEMA))
    try:
        yield Reporting(broker, database)
    finally:
        await database.close()


def unit(unit_id: str, parent: str | None) -> bytes:
    org = OrgUnit(unit_id=unit_id, parent_id=parent, name=unit_id.title(), headcount=6)
    return encode(Envelope.wrap(org, source="/t", subject=unit_id))


def scored(unit_id: str, demands: float) -> bytes:
    response = ResponseScored(
        response_id=uuid.uuid4(),
        pulse_id="p",
        unit_id=unit_id,
        iso_week=iso_week_of(WEEK),
        scoring_version="t",
        scales={"demands": demands},
        items={"DEM-01": demands},
        families=AlertFamilies(),
    )
    return encode(Envelope.wrap(response, source="/t", subject=unit_id))


async def rows(reporting: Reporting, table: str, measure: str) -> dict[str, tuple[int, float]]:
    found = await reporting.database.pool.fetch(
        f"SELECT unit_id, n, total FROM {SCHEMA}.{table} WHERE week_start = $1 AND measure = $2", WEEK, measure
    )
    return {r["unit_id"]: (r["n"], r["total"]) for r in found}


async def test_a_batch_is_rolled_up_once_per_response_and_a_redelivered_batch_changes_nothing(
    reporting: Reporting,
) -> None:
    batch = [scored("one", 2.0), scored("one", 4.0), scored("two", 3.0), scored("far", 5.0)]
    batch.append(batch[0])  # the same record twice in one batch
    async with TestKafkaBroker(reporting.broker) as br:
        for org in (unit("org", None), unit("dir", "org"), unit("one", "dir"), unit("two", "dir"), unit("far", "org")):
            await br.publish(org, ORG_UNITS, key=b"k")
        await br.publish_batch(*batch, topic=PULSE_SCORED)
        await br.publish_batch(*batch, topic=PULSE_SCORED)  # redelivered after a crash before the commit

    assert await rows(reporting, "own_rollups", "responses") == {"one": (2, 2.0), "two": (1, 1.0), "far": (1, 1.0)}
    assert await rows(reporting, "subtree_rollups", "scale:demands") == {
        "one": (2, 6.0),
        "two": (1, 3.0),
        "far": (1, 5.0),
        "dir": (3, 9.0),
        "org": (4, 14.0),
    }
    # Each item's 1–5 distribution, from the same batch.
    fours = {"one": (1, 1.0), "dir": (1, 1.0), "org": (1, 1.0)}
    assert await rows(reporting, "subtree_rollups", "answer:DEM-01:4") == fours
