"""Metrics, traces and health endpoints every service exposes."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest

from wellpulse.common.settings import ServiceSettings

log = logging.getLogger(__name__)

ReadinessCheck = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class Telemetry:
    service: str
    # One registry per app, not the process-global one, so tests can build many apps in a process.
    registry: CollectorRegistry
    tracer_provider: TracerProvider
    dead_letters: Counter

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()


def setup_telemetry(service: str, settings: ServiceSettings) -> Telemetry:
    provider = TracerProvider(resource=Resource.create({"service.name": f"wellpulse-{service}"}))
    if settings.otel_exporter_otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    registry = CollectorRegistry()
    dead_letters = Counter(
        "wellpulse_dead_letters",
        "Records sent to a dead-letter topic because they could not be decoded or used.",
        ["topic"],
        registry=registry,
    )
    return Telemetry(service, registry, provider, dead_letters)


def health_router(telemetry: Telemetry, readiness: Mapping[str, ReadinessCheck]) -> APIRouter:
    """``/healthz`` (the process is alive), ``/readyz`` (its dependencies answer), ``/metrics``."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": telemetry.service}

    @router.get(
        "/readyz",
        summary="Readiness: the database and the broker answer",
        responses={
            503: {
                "description": "Not ready: `failing` names what does not answer",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        },
    )
    async def readyz() -> JSONResponse:
        failures: dict[str, str] = {}
        for name, check in readiness.items():
            try:
                await check()
            except Exception as exc:  # noqa: BLE001 - any failure means not ready; say which
                failures[name] = type(exc).__name__
        if failures:
            return JSONResponse({"status": "unavailable", "failing": failures}, status_code=503)
        return JSONResponse({"status": "ok", "checked": sorted(readiness)})

    @router.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=Response,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    async def metrics() -> Response:
        return Response(generate_latest(telemetry.registry), media_type=CONTENT_TYPE_LATEST)

    return router
