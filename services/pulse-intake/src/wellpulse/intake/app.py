"""Pulse-intake's process: build(settings) wires the publishers, routes and lifespan."""

from pathlib import Path

from fastapi import FastAPI

from wellpulse.common.audit import AuditTrail
from wellpulse.common.bank import load_bank
from wellpulse.common.db import Database
from wellpulse.common.events import Envelope, OrgUnit, PulseResponseSubmitted
from wellpulse.common.kafka import build_broker
from wellpulse.common.service import service_app
from wellpulse.common.telemetry import setup_telemetry
from wellpulse.common.topics import ORG_UNITS, PULSE_RESPONSES
from wellpulse.intake.admin import admin_router
from wellpulse.intake.links import LinkIssuer
from wellpulse.intake.public import public_router
from wellpulse.intake.responses import ResponseDesk
from wellpulse.intake.rotation import check_rotation
from wellpulse.intake.schedule import Scheduler
from wellpulse.intake.settings import IntakeSettings
from wellpulse.intake.store import SCHEMA
from wellpulse.intake.web import Pages

MIGRATIONS = Path(__file__).parent / "migrations"


def build(settings: IntakeSettings) -> FastAPI:
    telemetry = setup_telemetry("pulse-intake", settings)
    broker = build_broker(settings, telemetry, "pulse-intake")
    # Each submission takes two single statements from the pool; intake sets no session state.
    database = Database(SCHEMA, MIGRATIONS, reset_sessions=False)
    bank = load_bank(settings.bank_path)
    check_rotation(bank, settings.max_items_per_pulse)
    responses_out = broker.publisher(
        PULSE_RESPONSES,
        title=PULSE_RESPONSES,
        description="One anonymous response; no person, no time finer than the day. Key: unit id.",
        schema=Envelope[PulseResponseSubmitted],
    )
    org_out = broker.publisher(
        ORG_UNITS,
        title=ORG_UNITS,
        description="Compacted: the latest state of each unit; a tombstone removes it. Key: unit id.",
        schema=Envelope[OrgUnit],
    )
    desk = ResponseDesk(settings, database, bank, responses_out, telemetry)
    issuer = LinkIssuer(settings, database)
    schedule = Scheduler(settings, database, bank, issuer)
    pages = Pages(bank, settings.organisation_name, min_group_size=settings.min_group_size)
    return service_app(
        service="pulse-intake",
        settings=settings,
        telemetry=telemetry,
        broker=broker,
        database=database,
        routers=[
            public_router(settings, database, bank, desk, pages),
            admin_router(settings, database, bank, org_out, issuer, AuditTrail(telemetry.registry)),
        ],
        body_caps={
            ("PUT", "/v1/admin/org-units"): settings.max_import_bytes,
            ("PUT", "/v1/admin/roster"): settings.max_import_bytes,
        },
        background=[schedule.run_forever] if settings.schedule_enabled else [],
        description="One-time pulse links, the staff form, and anonymous responses onto Kafka; the "
        "org tree, roster and rounds for admins.",
    )
