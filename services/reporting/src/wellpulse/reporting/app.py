"""Reporting's process: build(settings) wires the broker, the subscribers and the trends API."""

from pathlib import Path

from fastapi import FastAPI

from wellpulse.common.db import Database
from wellpulse.common.kafka import build_broker
from wellpulse.common.orgtree import OrgTreeProjection
from wellpulse.common.rollups import SubtreeRollups
from wellpulse.common.service import service_app
from wellpulse.common.telemetry import setup_telemetry
from wellpulse.reporting.api import trends_router
from wellpulse.reporting.handlers import register
from wellpulse.reporting.settings import ReportingSettings
from wellpulse.reporting.store import SCHEMA

MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: ReportingSettings) -> FastAPI:
    telemetry = setup_telemetry("reporting", settings)
    broker = build_broker(settings, telemetry, "reporting")
    database = Database(SCHEMA, MIGRATIONS)
    rollups = SubtreeRollups(SCHEMA)
    register(broker, settings, telemetry, database, rollups)
    return service_app(
        service="reporting",
        settings=settings,
        telemetry=telemetry,
        broker=broker,
        database=database,
        routers=[trends_router(settings, database, rollups)],
        org_tree=OrgTreeProjection(database),
        description="Aggregated trends for leaders and HR, each within their part of the organisation; nothing "
        "shown for fewer than k respondents.",
    )
