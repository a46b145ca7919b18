"""Publishing alerts to ``pulse.alerts`` from the alerts table and the alerts' history (the outbox):
an alert, and then each acknowledgement and resolution of it, is on the topic at least once, however
the process stops between committing it and publishing it."""

from __future__ import annotations

import uuid

from faststream.kafka.publisher.usecase import DefaultPublisher

from wellpulse.alerts import store
from wellpulse.common.db import Database
from wellpulse.common.events import AlertFinding, AlertRaised, AlertStatusChanged, Envelope, derived_id, iso_week_of
from wellpulse.common.kafka import publish_events

SOURCE = "/wellpulse/alerts"


class AlertPublisher:
    def __init__(self, database: Database, publisher: DefaultPublisher) -> None:
        self._database = database
        self._publisher = publisher

    async def publish_pending(self) -> int:
        """Publish every alert not yet on the topic, then every transition of an alert that is;
        returns how many events. An alert's raising always reaches the topic before its handling."""
        async with self._database.transaction() as conn:
            rows = await store.claim_unpublished(conn)
            if rows:
                await publish_events(self._publisher, [(r.unit_id, alert_event(r)) for r in rows])
                await store.mark_published(conn, [r.alert_id for r in rows])
        async with self._database.transaction() as conn:
            changes = await store.claim_unpublished_changes(conn)
            if changes:
                await publish_events(self._publisher, [(c.unit_id, status_event(c)) for c in changes])
                await store.mark_changes_published(conn, changes)
        return len(rows) + len(changes)


def alert_event(row: store.AlertRow) -> Envelope[AlertRaised]:
    return Envelope.wrap(
        AlertRaised(
            alert_id=uuid.UUID(row.alert_id),
            rule=row.rule,
            family=row.family,
            unit_id=row.unit_id,
            title=row.title,
            window_start_week=iso_week_of(row.window_start),
            window_end_week=iso_week_of(row.window_end),
            people=row.people,
            findings=[AlertFinding.model_validate(f) for f in row.findings],
            first_step=row.first_step,
            changes=row.changes,
            follows=uuid.UUID(row.follows) if row.follows else None,
        ),
        source=SOURCE,
        subject=row.unit_id,
        event_id=uuid.UUID(row.alert_id),
    )


def status_event(change: store.StatusChange) -> Envelope[AlertStatusChanged]:
    return Envelope.wrap(
        AlertStatusChanged(
            alert_id=uuid.UUID(change.alert_id),
            rule=change.rule,
            family=change.family,
            unit_id=change.unit_id,
            status=change.status,  # the history's CHECK allows no other
            seq=change.seq,
        ),
        source=SOURCE,
        subject=change.unit_id,
        # Published again after a crash, it is the same event: consumers absorb it.
        event_id=derived_id("alert-status", change.alert_id, str(change.seq)),
    )
