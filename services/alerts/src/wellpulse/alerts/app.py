"""Alerts' process: build(settings) wires the broker, the subscribers, the outbox and HR routes."""

from pathlib import Path

from fastapi import FastAPI

from wellpulse.alerts.api import hr_router
from wellpulse.alerts.handlers import register
from wellpulse.alerts.settings import AlertsSettings
from wellpulse.alerts.store import SCHEMA
from wellpulse.common.db import Database
from wellpulse.common.kafka import build_broker
from wellpulse.common.orgtree import OrgTreeProjection
from wellpulse.common.service import service_app
from wellpulse.common.telemetry import setup_telemetry

MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: AlertsSettings) -> FastAPI:
    telemetry = setup_telemetry("alerts", settings)
    broker = build_broker(settings, telemetry, "alerts")
    database = Database(SCHEMA, MIGRATIONS)
    relay_forever = register(broker, settings, telemetry, database)
    return service_app(
        service="alerts",
        settings=settings,
        telemetry=telemetry,
        broker=broker,
        database=database,
        routers=[hr_router(database)],
        org_tree=OrgTreeProjection(database),
        background=[relay_forever],
        description="Raises alerts when a unit crosses a threshold, naming only groups of at least k.",
    )
