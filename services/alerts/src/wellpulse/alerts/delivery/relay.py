"""Working off the delivery outbox: lease what is due, send it, record what came of it.

A lease, not a lock held while sending: a delivery is claimed (and committed) before the send and
its outcome recorded after, so no database connection waits on a receiver. A relay killed between
sending and recording leaves a lease that runs out, and the delivery goes again: at least once,
and a receiver that de-duplicates by ``webhook-id`` (email: ``Message-ID``) sees it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter

from wellpulse.alerts import deliveries_store, store
from wellpulse.alerts.delivery.attempt import Attempt
from wellpulse.alerts.delivery.email import EmailSender, alert_email
from wellpulse.alerts.delivery.notice import AlertNotice
from wellpulse.alerts.delivery.schedule import RetryPolicy, next_attempt
from wellpulse.alerts.delivery.webhooks import WebhookSender
from wellpulse.common.db import Database
from wellpulse.common.events import iso_week_of

log = logging.getLogger(__name__)


class DeliveryRelay:
    def __init__(
        self,
        database: Database,
        *,
        webhooks: WebhookSender,
        email: EmailSender | None,
        sender: str,
        organisation: str,
        policy: RetryPolicy,
        lease_seconds: float,
        registry: CollectorRegistry,
        link_base: str | None = None,
    ) -> None:
        self._database = database
        self._webhooks, self._email = webhooks, email
        self._sender, self._organisation = sender, organisation
        self._policy, self._lease = policy, lease_seconds
        self._link_base = link_base
        self._rng = random.SystemRandom()
        self._attempts = Counter(
            "wellpulse_alert_delivery_attempts",
            "Alert delivery attempts, by channel and outcome (delivered, retry, failed).",
            ["channel", "outcome"],
            registry=registry,
        )
        self.wake = asyncio.Event()

    async def deliver_due(self, limit: int = 50) -> int:
        """Send every delivery that is due (up to ``limit``); returns how many were attempted."""
        async with self._database.transaction() as conn:
            due = await deliveries_store.claim_due(conn, datetime.now(UTC), self._lease, limit)
        for delivery in due:
            attempt = await self._attempt(delivery)
            await self._record(delivery, attempt)
        return len(due)

    async def run_forever(self, interval: float) -> None:
        """Deliver as soon as an alert is raised (``wake``), and every ``interval`` for retries."""
        while True:
            try:
                while await self.deliver_due():
                    pass
            except Exception:  # the next round retries; escaping would stop every delivery
                log.exception("delivering alerts failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), interval)
            self.wake.clear()

    async def _attempt(self, delivery: deliveries_store.Due) -> Attempt:
        alert = await store.get_alert(self._database.pool, delivery.alert_id)
        if alert is None:  # pragma: no cover - the foreign key keeps it
            return Attempt.failed("the alert no longer exists")
        notice = _notice(alert, self._link_base)
        if delivery.channel == "webhook":
            if not delivery.webhook_secrets:
                return Attempt.failed("the contact has no webhook secret: set one with PUT /v1/admin/contacts")
            # Signed with the alert's own raise time, so every resend carries the same bytes.
            payload = notice.payload(at=alert.raised_at)
            return await self._webhooks.send(delivery.target, delivery.webhook_secrets, alert.alert_id, payload)
        if self._email is None:
            return Attempt.retry("email is not configured (ALERTS_SMTP_HOST): waiting for it")
        message = alert_email(notice, to=delivery.target, sender=self._sender, organisation=self._organisation)
        return await self._email.send(message)

    async def _record(self, delivery: deliveries_store.Due, attempt: Attempt) -> None:
        now = datetime.now(UTC)
        self._attempts.labels(channel=delivery.channel, outcome=attempt.outcome).inc()
        async with self._database.transaction() as conn:
            if attempt.outcome == "delivered":
                await deliveries_store.delivered(conn, delivery.delivery_id, attempt.status, now)
                return
            when = None
            if attempt.outcome == "retry":
                when = next_attempt(
                    self._policy,
                    delivery.attempts + 1,
                    now,
                    retry_after_seconds=attempt.retry_after_seconds,
                    rng=self._rng,
                )
            await deliveries_store.retry_at(conn, delivery.delivery_id, attempt.status, attempt.error, when)
        if when is None:
            log.warning("delivery %s of alert %s failed: %s", delivery.channel, delivery.alert_id, attempt.error)


def _notice(alert: store.AlertRow, link_base: str | None) -> AlertNotice:
    return AlertNotice(
        alert_id=alert.alert_id,
        rule=alert.rule,
        title=alert.title,
        unit_id=alert.unit_id,
        unit_name=alert.unit_name,
        window_start_week=iso_week_of(alert.window_start),
        window_end_week=iso_week_of(alert.window_end),
        people=alert.people,
        findings=[f["text"] for f in alert.findings],
        first_step=alert.first_step,
        changes=alert.changes,
        raised_on=alert.raised_at.date(),
        link=f"{link_base.rstrip('/')}/v1/alerts/{alert.alert_id}" if link_base else None,
    )
