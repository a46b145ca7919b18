"""Reporting's subscribers: scored responses into rollups, the org tree and the alerts projection,
each through ``read_model``, as the rebuild applies them."""

from __future__ import annotations

from typing import Any

from aiokafka import ConsumerRecord
from faststream.kafka import KafkaBroker
from faststream.params import NoCast

from wellpulse.common.db import Database
from wellpulse.common.events import ResponseScored
from wellpulse.common.kafka import DeadLetters, batch_subscriber
from wellpulse.common.orgtree import latest_units
from wellpulse.common.telemetry import Telemetry
from wellpulse.common.topics import ORG_UNITS, PULSE_ALERTS, PULSE_SCORED
from wellpulse.reporting.read_model import ALERT_EVENTS, ReadModel, apply_alerts, apply_org_units, apply_scored
from wellpulse.reporting.settings import ReportingSettings

GROUP = "wellpulse-reporting"


def register(
    broker: KafkaBroker,
    settings: ReportingSettings,
    telemetry: Telemetry,
    database: Database,
    model: ReadModel,
) -> None:
    dead_letters = DeadLetters(broker, GROUP, telemetry)

    @batch_subscriber(broker, PULSE_SCORED, group_id=f"{GROUP}.scored", settings=settings)
    async def roll_up_scored(records: NoCast[list[ConsumerRecord[Any, Any]]]) -> None:
        """Add each scored response to its unit's weekly rollups, once."""
        received = await dead_letters.decode_batch(records, ResponseScored)
        await dead_letters.flush()
        if received:
            async with database.transaction() as conn:
                await apply_scored(conn, model, received)

    @batch_subscriber(broker, PULSE_ALERTS, group_id=f"{GROUP}.alerts", settings=settings)
    async def track_alerts(records: NoCast[list[ConsumerRecord[Any, Any]]]) -> None:
        """Keep each alert's unit, family and status, for the counts leaders see."""
        received = await dead_letters.decode_mixed_batch(records, ALERT_EVENTS)
        await dead_letters.flush()
        if received:
            async with database.transaction() as conn:
                await apply_alerts(conn, model, received)

    @batch_subscriber(broker, ORG_UNITS, group_id=f"{GROUP}.org-units", settings=settings)
    async def track_org_units(records: NoCast[list[ConsumerRecord[Any, Any]]]) -> None:
        """Keep the org tree that trends aggregate over, and the rollups of any subtree it moves."""
        latest = await latest_units(records, dead_letters.decode_batch)
        await dead_letters.flush()
        if latest:
            async with database.transaction() as conn:
                await apply_org_units(conn, model, latest)
