"""Reporting's HTTP API for leaders and HR, each within the units their token names: trends, the
heatmap, the 12 Changes and item distributions, each as JSON or as a CSV export (``?format=csv``)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from wellpulse.common.auth import Role, UnitInScope, not_found
from wellpulse.common.bank import QuestionBank
from wellpulse.common.csvfile import csv_content, csv_response
from wellpulse.common.db import Database
from wellpulse.common.events import IsoWeek
from wellpulse.common.rollups import SubtreeRollups
from wellpulse.reporting import alert_counts, changes, heatmap, items, store, trends
from wellpulse.reporting.around import window
from wellpulse.reporting.benchmarks import Benchmarks
from wellpulse.reporting.publication import shown_through
from wellpulse.reporting.settings import ReportingSettings
from wellpulse.reporting.trends import Trend, unit_trend

# Leaders and HR, each within the units their token names.
ReportUnit = Annotated[str, Depends(UnitInScope(Role.leader, Role.hr))]
ToWeek = Annotated[
    IsoWeek | None,
    Query(
        description="Last ISO week; default the latest shown (a week is shown once it is over and its responses are in)"
    ),
]
Format = Annotated[Literal["json", "csv"], Query(description="json, or csv for a spreadsheet")]


def trends_router(
    settings: ReportingSettings,
    database: Database,
    rollups: SubtreeRollups,
    bank: QuestionBank,
    benchmarks: Benchmarks,
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["reporting"])
    k = settings.min_group_size
    suppression = (
        f"A cell is suppressed where fewer than k people contributed to a week of it (k = {k} here), or where "
        "showing it beside the units above and below would give a smaller group away by difference; a "
        "suppressed cell never says which."
    )

    async def unit_or_404(unit_id: str) -> store.UnitSummary:
        unit = await store.unit_summary(database.pool, unit_id)
        if unit is None:
            raise not_found("unit", unit_id)
        return unit

    def last_week(to_week: str | None) -> date:
        return shown_through(to_week, date.today(), settings.publish_after_days, settings.show_week_in_progress)

    @router.get(
        "/units/{unit_id}/trends",
        summary="Weekly trends for a unit and everything below it",
        description=f"Counts, means and spreads per ISO week; a week is suppressed whole, or one measure "
        f"shows null, as disclosure control decides. {suppression} CSV: one line per week and measure.",
        response_model=Trend,
        responses={200: {"content": csv_content("unit_id,unit,iso_week,respondents,response_rate,measure,...")}},
    )
    async def unit_trends(
        unit_id: ReportUnit,
        to_week: ToWeek = None,
        weeks: Annotated[int, Query(ge=1, le=104, description="How many weeks back")] = 12,
        format: Format = "json",
    ) -> Any:
        unit = await unit_or_404(unit_id)
        answer = await unit_trend(database, rollups, unit, last_week(to_week), weeks, k)
        if format == "csv":
            last = answer.weeks[-1].iso_week
            return _csv(trends.CSV_HEADER, trends.csv_rows(answer), "trends", answer.unit_id, last)
        return answer

    @router.get(
        "/units/{unit_id}/heatmap",
        summary="A unit and each of its children against the seven HSE scales, banded",
        description="Each cell is the scale's mean over the window's weeks, banded against the benchmark in "
        "the HSE Analysis Tool convention: red below the 20th percentile, yellow to the 50th, aqua to the "
        "80th, green above. The benchmark is the organisation's own teams over the same window (a scale "
        f"with too few teams has none) or a loaded file. {suppression} CSV: one line per unit and scale.",
        response_model=heatmap.Heatmap,
        responses={200: {"content": csv_content("unit_id,unit,whole,headcount,response_rate,scale,...")}},
    )
    async def unit_heatmap(
        unit_id: ReportUnit,
        to_week: ToWeek = None,
        weeks: Annotated[int, Query(ge=1, le=52, description="How many weeks the window spans")] = 4,
        format: Format = "json",
    ) -> Any:
        unit = await unit_or_404(unit_id)
        answer = await heatmap.unit_heatmap(database.pool, rollups, benchmarks, unit, last_week(to_week), weeks, k)
        if format == "csv":
            return _csv(heatmap.CSV_HEADER, heatmap.csv_rows(answer), "heatmap", answer.unit_id, answer.last_week)
        return answer

    @router.get(
        "/units/{unit_id}/changes",
        summary="The 12 Changes: which of them a unit and each of its children most need",
        description="Each change's score is the mean of the window means of the scored items that inform it "
        f"(the question bank's tags), over the items that may be shown. {suppression} CSV: one line per "
        "unit and change.",
        response_model=changes.ChangesView,
        responses={200: {"content": csv_content("unit_id,unit,whole,change,score,items_shown,items")}},
    )
    async def unit_changes(
        unit_id: ReportUnit,
        to_week: ToWeek = None,
        weeks: Annotated[int, Query(ge=1, le=52, description="How many weeks the window spans")] = 4,
        format: Format = "json",
    ) -> Any:
        unit = await unit_or_404(unit_id)
        answer = await changes.unit_changes(database.pool, rollups, bank, unit, last_week(to_week), weeks, k)
        if format == "csv":
            return _csv(changes.CSV_HEADER, changes.csv_rows(answer), "changes", answer.unit_id, answer.last_week)
        return answer

    @router.get(
        "/units/{unit_id}/items",
        summary="Each scored item for a unit and everything below it: mean and 1–5 distribution",
        description="Over the window's weeks, each item's mean and how many responses gave each score "
        "(after reverse-scoring, so 5 is always the better end). An item's distribution is shown exactly "
        f"where its mean is. {suppression} CSV: one line per item.",
        response_model=items.ItemsView,
        responses={200: {"content": csv_content("unit_id,unit,item,hse_scale,mean,responses,score_1,...")}},
    )
    async def unit_items(
        unit_id: ReportUnit,
        to_week: ToWeek = None,
        weeks: Annotated[int, Query(ge=1, le=52, description="How many weeks the window spans")] = 4,
        format: Format = "json",
    ) -> Any:
        unit = await unit_or_404(unit_id)
        answer = await items.unit_items(database.pool, rollups, bank, unit, last_week(to_week), weeks, k)
        if format == "csv":
            return _csv(items.CSV_HEADER, items.csv_rows(answer), "items", answer.unit_id, answer.last_week)
        return answer

    @router.get(
        "/units/{unit_id}/alerts",
        summary="Alert counts by family for a unit and everything below it",
        description="How many alerts are open, acknowledged, and were raised for windows ending in the weeks "
        "asked about, per alert family (caseload, bullying, intent to leave, and any other a rule raises). "
        "Counts of alerts, never of people; an alert names no one. CSV: one line per family.",
        response_model=alert_counts.AlertCounts,
        responses={200: {"content": csv_content("unit_id,unit,first_week,last_week,family,open,acknowledged,raised")}},
    )
    async def unit_alerts(
        unit_id: ReportUnit,
        to_week: ToWeek = None,
        weeks: Annotated[int, Query(ge=1, le=104, description="How many weeks back 'raised' counts")] = 12,
        format: Format = "json",
    ) -> Any:
        unit = await unit_or_404(unit_id)
        days = window(last_week(to_week), weeks)
        answer = await alert_counts.unit_alert_counts(database.pool, rollups, unit, days[0], days[-1])
        if format == "csv":
            rows = alert_counts.csv_rows(answer)
            return _csv(alert_counts.CSV_HEADER, rows, "alerts", answer.unit_id, answer.last_week)
        return answer

    return router


def _csv(header: list[str], rows: Any, view: str, unit_id: str, week: str) -> Response:
    # The file name is built from a unit id the caller may see; keep it to safe characters.
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in unit_id)[:80]
    return csv_response(header, rows, f"{view}-{safe}-{week}.csv")
