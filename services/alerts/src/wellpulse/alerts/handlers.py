"""Alerts' subscribers: scored responses into the rollups and the rules, and the org tree. Thin:
decoding and the transaction are here; what happens inside it is ``evaluation``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from aiokafka import ConsumerRecord
from faststream.kafka import KafkaBroker
from faststream.params import NoCast
from prometheus_client import Counter

from wellpulse.alerts.evaluation import Evaluation
from wellpulse.alerts.settings import AlertsSettings
from wellpulse.common.db import Database
from wellpulse.common.events import ResponseScored
from wellpulse.common.kafka import DeadLetters, batch_subscriber
from wellpulse.common.orgtree import apply_org_records
from wellpulse.common.telemetry import Telemetry
from wellpulse.common.topics import ORG_UNITS, PULSE_SCORED

# One consumer group per subscription, so joining one never rebalances the other.
GROUP = "wellpulse-alerts"


def register(
    broker: KafkaBroker,
    settings: AlertsSettings,
    telemetry: Telemetry,
    database: Database,
    evaluation: Evaluation,
    on_raised: Iterable[asyncio.Event],
) -> None:
    """Declare the subscribers. ``on_raised``: events set when a batch raised an alert (the relays wait on them)."""
    dead_letters = DeadLetters(broker, GROUP, telemetry)
    wake = list(on_raised)
    raised = Counter("wellpulse_alerts_raised", "Alerts raised.", ["family"], registry=telemetry.registry)

    @batch_subscriber(broker, PULSE_SCORED, group_id=f"{GROUP}.scored", settings=settings)
    async def evaluate_scored(records: NoCast[list[ConsumerRecord[Any, Any]]]) -> None:
        """Add scored responses to the rollups and raise the alerts their units now call for."""
        received = await dead_letters.decode_batch(records, ResponseScored)
        await dead_letters.flush()
        events = {str(r.event.id): r.event.data for r in received}  # a batch's own duplicates
        if not events:
            return
        async with database.transaction() as conn:
            new = await evaluation.apply(conn, list(events.items()))
        for alert in new:
            raised.labels(family=alert.rule.split(":")[0]).inc()
        if new:
            for event in wake:
                event.set()

    @batch_subscriber(broker, ORG_UNITS, group_id=f"{GROUP}.org-units", settings=settings)
    async def track_org_units(records: NoCast[list[ConsumerRecord[Any, Any]]]) -> None:
        """Keep the org tree the rules climb, and the rollups of any subtree it moves."""
        await apply_org_records(database, records, dead_letters, evaluation.rollups)
