"""Intake's routes: admin (org import, rounds) and the anonymous response endpoint. Thin edges:
parse, call the pure core, write, publish."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import date
from typing import Annotated, Any

from aiokafka.errors import KafkaError
from fastapi import APIRouter, HTTPException, Path, Request, status
from fastapi.responses import JSONResponse
from faststream.kafka.publisher.usecase import DefaultPublisher
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field

from wellpulse.common.bank import InvalidAnswers, QuestionBank
from wellpulse.common.events import (
    Envelope,
    IsoWeek,
    PulseResponseSubmitted,
    UnitId,
    iso_week_of,
    start_of_day,
)
from wellpulse.common.http import problem
from wellpulse.common.kafka import publish_events
from wellpulse.common.service import Database
from wellpulse.common.telemetry import Telemetry
from wellpulse.intake import store
from wellpulse.intake.org import OrgFileInvalid, parse_org_csv, parse_org_json
from wellpulse.intake.rotation import items_for_week
from wellpulse.intake.settings import IntakeSettings

log = logging.getLogger(__name__)
SOURCE = "/wellpulse/pulse-intake"


class BrokerUnavailable(Exception):
    """Kafka did not acknowledge in time: nothing was accepted, the client should retry."""


async def publish_or_fail(
    publisher: DefaultPublisher,
    events: list[tuple[str, Envelope[Any] | None]],
    settings: IntakeSettings,
) -> None:
    try:
        await asyncio.wait_for(publish_events(publisher, events), settings.kafka_publish_timeout_seconds)
    except (KafkaError, TimeoutError) as exc:
        log.warning("broker did not acknowledge: %s", type(exc).__name__)
        raise BrokerUnavailable from exc


def unavailable(settings: IntakeSettings) -> JSONResponse:
    return problem(
        503,
        "Service Unavailable",
        "Could not record this right now and nothing was saved; please try again shortly.",
        headers={"Retry-After": str(settings.retry_after_seconds)},
    )


class ResponseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pulse_id: str = Field(min_length=1, max_length=64)
    unit_id: UnitId
    answers: dict[str, int | str | None] = Field(max_length=64)


def responses_router(
    settings: IntakeSettings,
    database: Database,
    bank: QuestionBank,
    out: DefaultPublisher,
    telemetry: Telemetry,
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["responses"])
    outcomes = Counter(
        "wellpulse_responses",
        "Responses submitted, by outcome (accepted, invalid, unknown_round, closed, unavailable).",
        ["outcome"],
        registry=telemetry.registry,
    )

    @router.post(
        "/responses",
        status_code=status.HTTP_202_ACCEPTED,
        summary="Submit one anonymous response",
        description=(
            "Accepted (202) only once Kafka has acknowledged the event. Nothing about the sender "
            "is kept: no time finer than the day, no address, no user agent."
        ),
        responses={
            404: {"description": "No such pulse round"},
            410: {"description": "The round has closed"},
            422: {"description": "Unknown unit or invalid answers; every problem is listed"},
            503: {"description": "Kafka unavailable; nothing saved; retry after Retry-After"},
        },
    )
    async def submit_response(body: ResponseIn) -> Any:
        pulse = await store.get_round(database.pool, body.pulse_id)
        if pulse is None:
            outcomes.labels(outcome="unknown_round").inc()
            raise HTTPException(404, f"no pulse round {body.pulse_id!r}")
        if pulse.status != "open":
            outcomes.labels(outcome="closed").inc()
            raise HTTPException(410, f"pulse round {body.pulse_id!r} has closed")
        if not await store.unit_exists(database.pool, body.unit_id):
            outcomes.labels(outcome="invalid").inc()
            return problem(422, "Unknown unit", f"no unit {body.unit_id!r} in the org tree")
        try:
            answers = bank.validate_answers(body.answers, asked=pulse.items)
        except InvalidAnswers as exc:
            outcomes.labels(outcome="invalid").inc()
            return problem(
                422,
                "Some answers need correcting",
                "; ".join(f"{code}: {msg}" for code, msg in exc.errors.items()),
                errors=exc.errors,
            )
        event = Envelope.wrap(
            PulseResponseSubmitted(
                pulse_id=pulse.pulse_id,
                unit_id=body.unit_id,
                iso_week=pulse.iso_week,
                bank_version=pulse.bank_version,
                answers=answers,
            ),
            source=SOURCE,
            subject=body.unit_id,
            at=start_of_day(date.today()),
        )
        try:
            await publish_or_fail(out, [(body.unit_id, event)], settings)
        except BrokerUnavailable:
            outcomes.labels(outcome="unavailable").inc()
            return unavailable(settings)
        outcomes.labels(outcome="accepted").inc()
        return {"status": "accepted"}

    return router


class RoundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    iso_week: IsoWeek | None = Field(default=None, description="Default: the current ISO week")


class RoundOut(BaseModel):
    pulse_id: str
    iso_week: str
    status: str
    bank_version: str
    items: list[dict[str, Any]]


def admin_router(
    settings: IntakeSettings, database: Database, bank: QuestionBank, org_out: DefaultPublisher
) -> APIRouter:
    router = APIRouter(prefix="/v1/admin", tags=["admin"])

    @router.put(
        "/org-units",
        summary="Import the whole org tree (CSV or JSON); all or nothing",
        description=(
            "Columns/fields: unit_id, parent_id (empty for the root), name, headcount. Every "
            "problem is reported with its line; nothing is imported unless the whole file is good. "
            "Changes are published to org.units (a removed unit as a tombstone); re-importing the "
            "same file changes nothing."
        ),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "text/csv": {"schema": {"type": "string"}},
                    "application/json": {"schema": {"type": "object"}},
                },
            }
        },
    )
    async def import_org(request: Request) -> Any:
        raw = await request.body()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            return problem(422, "The file is not UTF-8", "Save the export as UTF-8 and try again.")
        kind = request.headers.get("content-type", "").split(";")[0].strip()
        parse = {"text/csv": parse_org_csv, "application/json": parse_org_json}.get(kind)
        if parse is None:
            return problem(415, "Unsupported file type", "Send text/csv or application/json.")
        try:
            units = parse(text)
        except OrgFileInvalid as exc:
            return problem(
                422,
                "The org file has problems; nothing was imported",
                "; ".join(str(p) for p in exc.problems),
                errors=[vars(p) for p in exc.problems],
            )
        async with database.pool.acquire() as conn:
            transaction = conn.transaction()
            await transaction.start()
            try:
                changes = await store.replace_org_tree(conn, units)
                events: list[tuple[str, Envelope[Any] | None]] = [
                    (u.unit_id, Envelope.wrap(u, source=SOURCE, subject=u.unit_id)) for u in changes.upserted
                ]
                events += [(unit_id, None) for unit_id in changes.removed]
                # Published before the commit: if the broker fails, nothing is stored and the
                # import can simply be repeated.
                await publish_or_fail(org_out, events, settings)
            except BaseException as exc:
                await transaction.rollback()
                if isinstance(exc, BrokerUnavailable):
                    return unavailable(settings)
                raise
            await transaction.commit()
        return {
            "units": len(units),
            "created_or_updated": len(changes.upserted),
            "removed": len(changes.removed),
            "unchanged": changes.unchanged,
        }

    @router.post("/rounds", status_code=201, summary="Open the pulse round for an ISO week")
    async def open_round(body: RoundIn) -> RoundOut:
        iso_week = body.iso_week or iso_week_of(date.today())
        items = items_for_week(bank, iso_week, settings.max_items_per_pulse)
        pulse, _ = await store.open_round(
            database.pool, f"p-{iso_week}-{uuid.uuid4().hex[:8]}", iso_week, items, bank.version
        )
        return _round_out(pulse, bank)

    return router


def rounds_router(database: Database, bank: QuestionBank) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["responses"])

    @router.get("/rounds/{pulse_id}", summary="A round's items, with their wording")
    async def get_round(pulse_id: Annotated[str, Path(max_length=64)]) -> RoundOut:
        pulse = await store.get_round(database.pool, pulse_id)
        if pulse is None:
            raise HTTPException(404, f"no pulse round {pulse_id!r}")
        return _round_out(pulse, bank)

    return router


def _round_out(pulse: store.Round, bank: QuestionBank) -> RoundOut:
    return RoundOut(
        pulse_id=pulse.pulse_id,
        iso_week=pulse.iso_week,
        status=pulse.status,
        bank_version=pulse.bank_version,
        items=[
            {"code": code, "response": bank.item(code).response, "text": bank.item(code).text}
            for code in pulse.items
        ],
    )
