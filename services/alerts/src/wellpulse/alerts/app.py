"""Alerts' process: build(settings) wires the rules, the subscribers, the relays and the HR API."""

import asyncio
import contextlib
import logging
from pathlib import Path

import httpx
from fastapi import FastAPI

from wellpulse.alerts.admin import admin_router
from wellpulse.alerts.api import hr_router
from wellpulse.alerts.delivery.email import EmailSender
from wellpulse.alerts.delivery.relay import DeliveryRelay
from wellpulse.alerts.delivery.schedule import RetryPolicy
from wellpulse.alerts.delivery.webhooks import WebhookSender
from wellpulse.alerts.evaluation import Evaluation
from wellpulse.alerts.handlers import register
from wellpulse.alerts.handling import AlertDesk
from wellpulse.alerts.outbox import AlertPublisher
from wellpulse.alerts.rules_file import load_rules
from wellpulse.alerts.settings import AlertsSettings
from wellpulse.alerts.store import SCHEMA
from wellpulse.common.audit import AuditTrail
from wellpulse.common.bank import load_bank
from wellpulse.common.db import CUSTOM_PLANS, Database
from wellpulse.common.events import AlertRaised, AlertStatusChanged, Envelope
from wellpulse.common.kafka import build_broker
from wellpulse.common.orgtree import OrgTreeProjection
from wellpulse.common.rollups import SubtreeRollups
from wellpulse.common.service import service_app
from wellpulse.common.settings import Environment
from wellpulse.common.telemetry import setup_telemetry
from wellpulse.common.topics import PULSE_ALERTS

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)


def build(settings: AlertsSettings) -> FastAPI:
    telemetry = setup_telemetry("alerts", settings)
    broker = build_broker(settings, telemetry, "alerts")
    database = Database(SCHEMA, MIGRATIONS, server_settings=CUSTOM_PLANS)  # see common.db
    book = load_rules(settings.rules_path)
    evaluation = Evaluation(book, load_bank(settings.bank_path), settings.min_group_size, SubtreeRollups(SCHEMA))
    development = settings.environment is Environment.development
    publisher = AlertPublisher(
        database,
        broker.publisher(
            PULSE_ALERTS,
            title=PULSE_ALERTS,
            description="An alert raised for a unit whose every contributing week had at least k people "
            "(org.wellpulse.alert.raised), then HR acknowledging or resolving it "
            "(org.wellpulse.alert.status-changed). Key: unit id.",
            schema=Envelope[AlertRaised] | Envelope[AlertStatusChanged],
        ),
    )
    client = httpx.AsyncClient(trust_env=not development)
    relay = DeliveryRelay(
        database,
        webhooks=WebhookSender(client, development=development),
        email=_email(settings),
        sender=settings.mail_from,
        organisation=settings.organisation_name,
        policy=RetryPolicy(
            first_delay_seconds=settings.delivery_first_retry_seconds,
            max_delay_seconds=settings.delivery_max_retry_seconds,
            max_attempts=settings.delivery_max_attempts,
        ),
        lease_seconds=settings.delivery_lease_seconds,
        registry=telemetry.registry,
        link_base=settings.public_url,
    )
    published = asyncio.Event()
    register(broker, settings, telemetry, database, evaluation, on_raised=(published, relay.wake))

    async def publish_alerts() -> None:
        """Publish alerts to pulse.alerts as they are raised, and retry any left behind."""
        while True:
            try:
                await publisher.publish_pending()
            except Exception:  # the next round retries; letting it escape would stop publishing
                log.exception("publishing pending alerts failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(published.wait(), settings.outbox_interval_seconds)
            published.clear()

    async def deliver_alerts() -> None:
        try:
            await relay.run_forever(settings.delivery_interval_seconds)
        finally:
            await client.aclose()

    audit = AuditTrail(telemetry.registry)
    return service_app(
        service="alerts",
        settings=settings,
        telemetry=telemetry,
        broker=broker,
        database=database,
        routers=[
            hr_router(database, AlertDesk(database, audit, on_change=published.set)),
            admin_router(database, audit, development=development),
        ],
        background=[publish_alerts, deliver_alerts],
        org_tree=OrgTreeProjection(database),
        # A thousand contacts with every field at its longest still fits.
        body_caps={("PUT", "/v1/admin/contacts"): 8 * 1024 * 1024},
        description="Raises alerts when a unit crosses a threshold, naming only groups of at least k people, "
        "and delivers them to HR by email and signed webhook.",
    )


def _email(settings: AlertsSettings) -> EmailSender | None:
    if not settings.smtp_host:
        return None
    return EmailSender(
        settings.smtp_host,
        settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        starttls=settings.smtp_starttls,
        use_tls=settings.smtp_use_tls,
        timeout_seconds=settings.smtp_timeout_seconds,
    )
