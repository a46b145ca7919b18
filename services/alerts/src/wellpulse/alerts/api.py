"""Alerts' HTTP API for HR: the alerts raised for units within the caller's part of the organisation."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from wellpulse.alerts import store
from wellpulse.common.auth import CallerScope, Principal, Role, Scope, not_found, require
from wellpulse.common.db import Database
from wellpulse.common.events import iso_week_of

HrUser = Annotated[Principal, require(Role.hr)]
HrScope = Annotated[Scope, Depends(CallerScope(Role.hr))]


class AlertOut(BaseModel):
    alert_id: str
    rule: str
    unit_id: str
    window_start_week: str
    window_end_week: str
    # Responses over the window (not people: a person answering every week counts each week).
    respondents: int
    value: float
    threshold: float
    status: store.AlertStatus
    raised_on: date


def hr_router(database: Database) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["alerts"])

    @router.get("/alerts", summary="Alerts for the units in the caller's scope, newest first")
    async def list_alerts(user: HrUser, status: store.AlertStatus | None = None) -> list[AlertOut]:
        return [_out(row) for row in await store.list_alerts(database.pool, user.units, status)]

    @router.get("/alerts/{alert_id}", summary="One alert")
    async def get_alert(alert_id: uuid.UUID, scope: HrScope) -> AlertOut:
        row = await store.get_alert(database.pool, str(alert_id))
        if row is None or not await scope.covers(row.unit_id):
            raise not_found("alert", str(alert_id))
        return _out(row)

    return router


def _out(row: store.AlertRow) -> AlertOut:
    return AlertOut(
        alert_id=row.alert_id,
        rule=row.rule,
        unit_id=row.unit_id,
        window_start_week=iso_week_of(row.window_start),
        window_end_week=iso_week_of(row.window_end),
        respondents=row.respondents,
        value=row.value,
        threshold=row.threshold,
        status=row.status,
        raised_on=row.raised_on,
    )
