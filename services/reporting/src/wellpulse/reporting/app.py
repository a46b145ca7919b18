"""Reporting's process: build(settings) wires the broker, the subscribers, the reporting API and,
when a sign-in client is configured, the leaders' dashboard."""

from pathlib import Path

from fastapi import FastAPI

from wellpulse.common.bank import load_bank
from wellpulse.common.db import CUSTOM_PLANS, Database
from wellpulse.common.kafka import build_broker
from wellpulse.common.orgtree import OrgTreeProjection
from wellpulse.common.service import service_app
from wellpulse.common.telemetry import setup_telemetry
from wellpulse.reporting.api import trends_router
from wellpulse.reporting.benchmarks import Benchmarks, load_benchmark_file
from wellpulse.reporting.dashboard.app import build_dashboard
from wellpulse.reporting.handlers import register
from wellpulse.reporting.read_model import ReadModel
from wellpulse.reporting.settings import ReportingSettings
from wellpulse.reporting.store import SCHEMA

MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: ReportingSettings) -> FastAPI:
    telemetry = setup_telemetry("reporting", settings)
    broker = build_broker(settings, telemetry, "reporting")
    database = Database(SCHEMA, MIGRATIONS, server_settings=CUSTOM_PLANS)  # see common.db
    model = ReadModel.in_schema(SCHEMA)
    rollups = model.rollups
    bank = load_bank(settings.bank_path)
    benchmarks = Benchmarks(
        rollups,
        settings.min_group_size,
        settings.benchmark_min_units,
        load_benchmark_file(settings.benchmark_file) if settings.benchmark_file else None,
    )

    async def benchmarks_ahead() -> None:
        await benchmarks.keep_fresh(
            database, settings.publish_after_days, settings.show_week_in_progress, settings.benchmark_ahead_seconds
        )

    register(broker, settings, telemetry, database, model)
    dashboard = build_dashboard(settings, database, rollups, bank, benchmarks) if settings.dashboard_client_id else None
    return service_app(
        service="reporting",
        settings=settings,
        telemetry=telemetry,
        broker=broker,
        database=database,
        routers=[
            trends_router(settings, database, rollups, bank, benchmarks),
            *(dashboard.routers if dashboard else []),
        ],
        background=[benchmarks_ahead],
        org_tree=OrgTreeProjection(database),
        sessions=dashboard.sessions if dashboard else None,
        error_pages=dashboard.errors if dashboard else None,
        description="Trends, heatmaps and the 12 Changes for leaders and HR, each within their part of the "
        "organisation, and the leaders' dashboard; nothing shown for fewer than k respondents, nor anything that "
        "would give a smaller group away by difference.",
    )
