"""Reporting's HTTP API for leaders and HR: trends, within the caller's part of the organisation."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from wellpulse.common.auth import Role, UnitInScope, not_found
from wellpulse.common.db import Database
from wellpulse.common.events import IsoWeek, iso_week_of, monday_of
from wellpulse.common.rollups import SubtreeRollups
from wellpulse.reporting import store
from wellpulse.reporting.settings import ReportingSettings
from wellpulse.reporting.trends import Trend, unit_trend

# Trends are for leaders and HR, each within the units their token names.
TrendUnit = Annotated[str, Depends(UnitInScope(Role.leader, Role.hr))]


def trends_router(settings: ReportingSettings, database: Database, rollups: SubtreeRollups) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["trends"])
    k = settings.min_group_size

    @router.get(
        "/units/{unit_id}/trends",
        summary="Weekly trends for a unit and everything below it",
        description=(
            f"Counts, means and spreads per ISO week. A week is suppressed whole, and a measure shows "
            f"null, where fewer than k people contributed (k = {k} here) or where showing it beside "
            f"the units above and below would give a smaller group away by difference."
        ),
    )
    async def unit_trends(
        unit_id: TrendUnit,
        to_week: Annotated[IsoWeek | None, Query(description="Last ISO week; default this week")] = None,
        weeks: Annotated[int, Query(ge=1, le=104, description="How many weeks back")] = 12,
    ) -> Trend:
        unit = await store.unit_summary(database.pool, unit_id)
        if unit is None:
            raise not_found("unit", unit_id)
        last = monday_of(to_week or iso_week_of(date.today()))
        return await unit_trend(database, rollups, unit, last, weeks, k)

    return router
