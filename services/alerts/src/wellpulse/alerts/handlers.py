"""Alerts' subscribers and outbox relay: thin edges around ``rules`` and ``store``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import date
from typing import Any

from aiokafka import ConsumerRecord
from faststream.kafka import KafkaBroker
from faststream.params import NoCast
from prometheus_client import Counter

from wellpulse.alerts import store
from wellpulse.alerts.rules import IntentToLeaveRule
from wellpulse.alerts.settings import AlertsSettings
from wellpulse.common.db import Database
from wellpulse.common.events import (
    AlertRaised,
    Envelope,
    ResponseScored,
    derived_id,
    iso_week_of,
    monday_of,
)
from wellpulse.common.kafka import DeadLetters, batch_subscriber, publish_events
from wellpulse.common.orgtree import apply_org_records
from wellpulse.common.telemetry import Telemetry
from wellpulse.common.topics import ORG_UNITS, PULSE_ALERTS, PULSE_SCORED

log = logging.getLogger(__name__)

# One consumer group per subscription, so joining one never rebalances the other.
GROUP = "wellpulse-alerts"
SOURCE = "/wellpulse/alerts"


def register(
    broker: KafkaBroker, settings: AlertsSettings, telemetry: Telemetry, database: Database
) -> Callable[[], Coroutine[Any, Any, None]]:
    """Declare the subscribers; returns the outbox relay to run beside them."""
    rule = IntentToLeaveRule(
        threshold=settings.intent_to_leave_threshold,
        min_group=settings.min_group_size,
        window_weeks=settings.window_weeks,
    )
    dead_letters = DeadLetters(broker, GROUP, telemetry)
    alerts_out = broker.publisher(
        PULSE_ALERTS,
        title=PULSE_ALERTS,
        description="An alert raised for a unit with at least k respondents. Key: unit id.",
        schema=Envelope[AlertRaised],
    )
    raised = Counter("wellpulse_alerts_raised", "Alerts raised.", ["rule"], registry=telemetry.registry)

    @batch_subscriber(broker, PULSE_SCORED, group_id=f"{GROUP}.scored", settings=settings)
    async def evaluate_scored(records: NoCast[list[ConsumerRecord[Any, Any]]]) -> None:
        """Count scored responses per unit and week, then evaluate the rules where counts moved."""
        received = await dead_letters.decode_batch(records, ResponseScored)
        await dead_letters.flush()
        deltas = {
            str(r.event.id): store.CountDelta(
                event_id=str(r.event.id),
                unit_id=r.event.data.unit_id,
                week_start=monday_of(r.event.data.iso_week),
                leave_answered=int(r.event.data.families.intends_to_leave is not None),
                leavers=int(bool(r.event.data.families.intends_to_leave)),
            )
            for r in received
        }
        async with database.transaction() as conn:
            touched = await store.apply_counts(conn, list(deltas.values()))
            for unit_id, week_start in sorted(touched):
                if await _evaluate(conn, rule, unit_id, week_start):
                    raised.labels(rule=rule.name).inc()
        await relay_outbox()

    @batch_subscriber(broker, ORG_UNITS, group_id=f"{GROUP}.org-units", settings=settings)
    async def track_org_units(records: NoCast[list[ConsumerRecord[Any, Any]]]) -> None:
        """Keep the org tree the rules climb when a unit is too small to name."""
        await apply_org_records(database, records, dead_letters)

    async def relay_outbox() -> None:
        async with database.transaction() as conn:
            rows = await store.claim_unpublished(conn)
            if not rows:
                return
            await publish_events(alerts_out, [(r["unit_id"], _alert_event(r)) for r in rows])
            await store.mark_published(conn, [r["alert_id"] for r in rows])

    async def relay_forever() -> None:
        """Publish alerts left behind (a broker outage, a crash between commit and publish)."""
        while True:
            try:
                await relay_outbox()
            except Exception:  # the next round retries; letting it escape would stop alerting
                log.exception("publishing pending alerts failed; retrying")
            await asyncio.sleep(settings.outbox_interval_seconds)

    return relay_forever


async def _evaluate(conn: Any, rule: IntentToLeaveRule, unit_id: str, week_start: date) -> bool:
    window = rule.window(week_start)
    chain = []
    for ancestor in await store.ancestry(conn, unit_id):
        counts = await store.window_counts(conn, ancestor, *window)
        chain.append(counts)
        if counts.leave_answered >= rule.min_group:
            break  # the smallest unit that can be named has been found; no need to climb further
    decision = rule.evaluate(chain)
    if decision is None:
        return False
    alert_id = str(derived_id("alert", rule.name, decision.unit_id, str(window[1])))
    return await store.raise_alert(conn, alert_id, rule.name, decision, window, rule.threshold)


def _alert_event(row: Any) -> Envelope[AlertRaised]:
    return Envelope.wrap(
        AlertRaised(
            alert_id=row["alert_id"],
            rule=row["rule"],
            unit_id=row["unit_id"],
            window_start_week=iso_week_of(row["window_start"]),
            window_end_week=iso_week_of(row["window_end"]),
            respondents=row["respondents"],
            value=row["value"],
            threshold=row["threshold"],
        ),
        source=SOURCE,
        subject=row["unit_id"],
        event_id=row["alert_id"],
    )
