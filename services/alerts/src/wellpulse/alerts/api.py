"""Alerts' HTTP API for HR: the alerts for units within the caller's part of the organisation, one
alert with its history and deliveries, and acknowledging and resolving it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from wellpulse.alerts import deliveries_store, store
from wellpulse.alerts.handling import AlertDesk
from wellpulse.alerts.lifecycle import Action, Status
from wellpulse.common.auth import CallerScope, Principal, Role, Scope, not_found, require
from wellpulse.common.db import Database
from wellpulse.common.events import Text, iso_week_of
from wellpulse.common.openapi import problem_doc

HrUser = Annotated[Principal, require(Role.hr)]
Family = Literal["caseload", "bullying", "intent_to_leave", "scale_in_red", "sustained_decline"]
HrScope = Annotated[Scope, Depends(CallerScope(Role.hr, resource="alert", path_param="alert_id"))]


class FindingOut(BaseModel):
    clause: str
    value: float
    threshold: float
    text: str


class AlertOut(BaseModel):
    alert_id: str
    rule: str
    family: str
    unit_id: str
    unit_name: str
    title: str
    window_start_week: str = Field(description="The window the alert was raised for; its figures are from then")
    window_end_week: str
    still_holds_week: str = Field(description="The last week of the latest window in which the condition held")
    people: int = Field(description="The fewest people who answered in any week of the window (always at least k)")
    findings: list[FindingOut]
    first_step: str
    changes: list[str] = Field(description="Which of the 12 Changes the first step serves")
    status: Status
    raised_at: datetime
    resolved_at: datetime | None
    resolution_note: str | None
    follows: str | None = Field(description="The earlier alert of this unit and rule, when its condition came back")


class EventOut(BaseModel):
    at: datetime
    actor: str
    action: str
    note: str | None


class DeliveryOut(BaseModel):
    contact_id: str
    channel: str
    status: str
    attempts: int
    next_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    delivered_at: datetime | None


class AlertDetail(AlertOut):
    history: list[EventOut]
    deliveries: list[DeliveryOut]


class AcknowledgeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Annotated[Text, Field(max_length=2000)] | None = None


class ResolveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Annotated[Text, Field(min_length=1, max_length=2000, pattern=r"\S", description="What was done")]


CONFLICT: dict[int | str, dict[str, Any]] = {409: problem_doc("The alert's status does not allow this")}


def hr_router(database: Database, desk: AlertDesk) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["alerts"])

    @router.get("/alerts", summary="Alerts for the units in the caller's scope, newest first")
    async def list_alerts(
        user: HrUser,
        status: Status | None = None,
        family: Family | None = None,
        unit_id: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> list[AlertOut]:
        rows = await store.list_alerts(
            database.pool, user.units, status=status, family=family, unit_id=unit_id, limit=limit
        )
        return [_out(row) for row in rows]

    async def _visible(alert_id: uuid.UUID, scope: Scope) -> store.AlertRow:
        row = await store.get_alert(database.pool, str(alert_id))
        if row is None or not await scope.covers(row.unit_id):
            raise not_found("alert", str(alert_id))
        return row

    @router.get("/alerts/{alert_id}", summary="One alert, with its history and its deliveries")
    async def get_alert(alert_id: uuid.UUID, scope: HrScope) -> AlertDetail:
        row = await _visible(alert_id, scope)
        events = await store.history(database.pool, row.alert_id)
        deliveries = await deliveries_store.deliveries_of(database.pool, row.alert_id)
        return AlertDetail(
            **_out(row).model_dump(),
            history=[EventOut(at=e.at, actor=e.actor, action=e.action, note=e.note) for e in events],
            deliveries=[_delivery(d) for d in deliveries],
        )

    @router.get("/alerts/{alert_id}/deliveries", summary="Where an alert was sent, and how that went")
    async def alert_deliveries(alert_id: uuid.UUID, scope: HrScope) -> list[DeliveryOut]:
        row = await _visible(alert_id, scope)
        return [_delivery(d) for d in await deliveries_store.deliveries_of(database.pool, row.alert_id)]

    @router.post("/alerts/{alert_id}/acknowledge", summary="Acknowledge an open alert", responses=CONFLICT)
    async def acknowledge(alert_id: uuid.UUID, scope: HrScope, body: AcknowledgeIn | None = None) -> AlertOut:
        return _out(await desk.act(scope, str(alert_id), Action.acknowledge, body.note if body else None))

    @router.post("/alerts/{alert_id}/resolve", summary="Resolve an alert, saying what was done", responses=CONFLICT)
    async def resolve(alert_id: uuid.UUID, scope: HrScope, body: ResolveIn) -> AlertOut:
        return _out(await desk.act(scope, str(alert_id), Action.resolve, body.note))

    return router


def _out(row: store.AlertRow) -> AlertOut:
    return AlertOut(
        alert_id=row.alert_id,
        rule=row.rule,
        family=row.family,
        unit_id=row.unit_id,
        unit_name=row.unit_name,
        title=row.title,
        window_start_week=iso_week_of(row.window_start),
        window_end_week=iso_week_of(row.window_end),
        still_holds_week=iso_week_of(row.still_holds_week),
        people=row.people,
        findings=[FindingOut.model_validate(f) for f in row.findings],
        first_step=row.first_step,
        changes=row.changes,
        status=row.status,
        raised_at=row.raised_at,
        resolved_at=row.resolved_at,
        resolution_note=row.resolution_note,
        follows=row.follows,
    )


def _delivery(d: deliveries_store.DeliveryRow) -> DeliveryOut:
    return DeliveryOut(
        contact_id=d.contact_id,
        channel=d.channel,
        status=d.status,
        attempts=d.attempts,
        next_attempt_at=d.next_attempt_at if d.status == "pending" else None,
        last_status=d.last_status,
        last_error=d.last_error,
        delivered_at=d.delivered_at,
    )
