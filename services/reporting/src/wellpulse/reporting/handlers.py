"""Reporting's subscribers (scored responses, org tree) and its trends route."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from aiokafka import ConsumerRecord
from fastapi import APIRouter, HTTPException, Path, Query
from faststream.kafka import KafkaBroker
from faststream.params import NoCast
from pydantic import BaseModel

from wellpulse.common.events import IsoWeek, ResponseScored, iso_week_of, monday_of
from wellpulse.common.kafka import DeadLetters, batch_subscriber
from wellpulse.common.orgtree import apply_org_records
from wellpulse.common.service import Database
from wellpulse.common.telemetry import Telemetry
from wellpulse.common.topics import ORG_UNITS, PULSE_SCORED
from wellpulse.reporting import store
from wellpulse.reporting.measures import Figure, figures, measures_of
from wellpulse.reporting.settings import ReportingSettings

GROUP = "wellpulse-reporting"


def register(broker: KafkaBroker, settings: ReportingSettings, telemetry: Telemetry, database: Database) -> None:
    dead_letters = DeadLetters(broker, GROUP, telemetry)

    @batch_subscriber(broker, PULSE_SCORED, group_id=f"{GROUP}.scored", settings=settings)
    async def roll_up_scored(records: NoCast[list[ConsumerRecord[Any, Any]]]) -> None:
        """Add each scored response to its unit's weekly rollups, once."""
        received = await dead_letters.decode_batch(records, ResponseScored)
        await dead_letters.flush()
        events = {str(r.event.id): r.event.data for r in received}  # a batch's own duplicates
        rows = [
            store.Contribution(event_id, s.unit_id, monday_of(s.iso_week), measure, value)
            for event_id, s in events.items()
            for measure, value in measures_of(s)
        ]
        if events:
            async with database.pool.acquire() as conn, conn.transaction():
                await store.apply_contributions(conn, list(events), rows)

    @batch_subscriber(broker, ORG_UNITS, group_id=f"{GROUP}.org-units", settings=settings)
    async def track_org_units(records: NoCast[list[ConsumerRecord[Any, Any]]]) -> None:
        """Keep the org tree that trends aggregate over."""
        await apply_org_records(database.pool, store.SCHEMA, records, dead_letters)


class ShownFigure(BaseModel):
    n: int
    mean: float
    sd: float | None


class WeekTrend(BaseModel):
    iso_week: str
    suppressed: bool
    respondents: int | None
    response_rate: float | None
    measures: dict[str, ShownFigure | None]


class Trend(BaseModel):
    unit_id: str
    name: str
    headcount: int
    min_group_size: int
    weeks: list[WeekTrend]


def trends_router(settings: ReportingSettings, database: Database) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["trends"])
    k = settings.min_group_size

    @router.get(
        "/units/{unit_id}/trends",
        summary="Weekly trends for a unit and everything below it",
        description=(
            f"Counts, means and spreads per ISO week. A week with fewer than k respondents is "
            f"suppressed whole; a measure answered by fewer than k shows null. k = {k} here."
        ),
        responses={404: {"description": "No such unit"}},
    )
    async def unit_trends(
        unit_id: Annotated[str, Path(max_length=64)],
        to_week: Annotated[IsoWeek | None, Query(description="Last ISO week; default this week")] = None,
        weeks: Annotated[int, Query(ge=1, le=104, description="How many weeks back")] = 12,
    ) -> Trend:
        unit = await store.unit_summary(database.pool, unit_id)
        if unit is None:
            raise HTTPException(404, f"no unit {unit_id!r}")
        last = monday_of(to_week) if to_week else monday_of(iso_week_of(date.today()))
        first = last - timedelta(weeks=weeks - 1)
        rollups = await store.subtree_rollups(database.pool, unit_id, first, last)
        series = []
        for i in range(weeks):
            week = first + timedelta(weeks=i)
            respondents, shown = figures(rollups.get(week, []), k)
            series.append(
                WeekTrend(
                    iso_week=iso_week_of(week),
                    suppressed=respondents is None,
                    respondents=respondents,
                    response_rate=(
                        round(respondents / unit.headcount, 4) if respondents is not None and unit.headcount else None
                    ),
                    measures={m: _shown(f) for m, f in shown.items()},
                )
            )
        return Trend(
            unit_id=unit_id,
            name=unit.name,
            headcount=unit.headcount,
            min_group_size=k,
            weeks=series,
        )

    return router


def _shown(figure: Figure | None) -> ShownFigure | None:
    return ShownFigure(n=figure.n, mean=figure.mean, sd=figure.sd) if figure else None
