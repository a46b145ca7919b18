"""Scoring's process: build(settings) wires the broker, the subscriber and the HTTP app."""

from fastapi import FastAPI

from wellpulse.common.bank import load_bank
from wellpulse.common.kafka import build_broker
from wellpulse.common.service import service_app
from wellpulse.common.telemetry import setup_telemetry
from wellpulse.scoring.handlers import register
from wellpulse.scoring.settings import ScoringSettings


def build(settings: ScoringSettings) -> FastAPI:
    telemetry = setup_telemetry("scoring", settings)
    broker = build_broker(settings, telemetry, "scoring")
    register(broker, settings, telemetry, load_bank(settings.bank_path))
    return service_app(
        service="scoring",
        settings=settings,
        telemetry=telemetry,
        broker=broker,
        database=None,
        description="Scores each anonymous response. Consumes pulse.responses, produces pulse.scored.",
    )
