"""The dashboard's pages for a unit: thin routes that ask a use case (``trends.unit_trend``),
hand its answer to a view (``views``) and render a template. Who may see which unit is the auth
seam's (``UnitInSessionScope``): outside the caller's scope a unit answers exactly as an unknown one.

Adding a page is three things: a view function (``views``, ``windows``) over
the use case's answer, a template extending ``unit.html``, and a route here like ``heatmap``
below; then add its ``Section``, and the navigation links to it. The heatmap, the 12 Changes and
the unit detail are built from the very functions the API answers with (``heatmap.unit_heatmap``,
``changes.unit_changes``, ``items.unit_items``), so a page can show nothing the API would not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from wellpulse.common.auth import Principal, SessionRoleCheck, SessionUser, UnitInSessionScope, not_found
from wellpulse.common.auth.dependencies import UNIT_ID_PATTERN
from wellpulse.common.bank import HseScale, QuestionBank
from wellpulse.common.db import Database
from wellpulse.common.events import IsoWeek
from wellpulse.common.measures import SCORES
from wellpulse.common.rollups import SubtreeRollups
from wellpulse.reporting import changes, heatmap, items, store
from wellpulse.reporting.alert_counts import unit_alert_counts
from wellpulse.reporting.around import window
from wellpulse.reporting.benchmarks import Benchmarks
from wellpulse.reporting.dashboard.detail import DetailText, bands_view, detail_page
from wellpulse.reporting.dashboard.render import PREFIX, Pages, unit_url
from wellpulse.reporting.dashboard.sessions import Cookies, csrf_token
from wellpulse.reporting.dashboard.signin import DASHBOARD_ROLES
from wellpulse.reporting.dashboard.views import ChartText, alerts_view, overview_view, trends_view
from wellpulse.reporting.dashboard.windows import ChangesText, changes_page, heatmap_page
from wellpulse.reporting.publication import shown_through
from wellpulse.reporting.settings import ReportingSettings
from wellpulse.reporting.trends import Trend, unit_trend

OVERVIEW_WEEKS = 6
WEEK_CHOICES = (6, 12, 26, 52)
WINDOW_CHOICES = (1, 4, 8, 13, 26)  # the heatmap's, the 12 Changes' and the unit detail's window
# Their default, and the overview's scales against the benchmark: a window whose organisation
# benchmark reporting takes ahead, as for every choice above, so no page waits for every team's rows.
WINDOW_WEEKS = 4
# A unit picker longer than this is not a picker any more; the URL still reaches any unit in scope.
PICKER_LIMIT = 2000

PageUnit = Annotated[str, Depends(UnitInSessionScope(*DASHBOARD_ROLES))]
Viewer = Annotated[Principal, Depends(SessionRoleCheck(*DASHBOARD_ROLES))]


@dataclass(frozen=True)
class Section:
    key: str
    suffix: str  # after /dashboard/units/{unit_id}
    title: str  # message key


SECTIONS = (
    Section("overview", "", "nav_overview"),
    Section("trends", "/trends", "nav_trends"),
    Section("heatmap", "/heatmap", "nav_heatmap"),
    Section("changes", "/changes", "nav_changes"),
    Section("detail", "/detail", "nav_detail"),
)
_BY_KEY = {section.key: section for section in SECTIONS}


def pages_router(
    settings: ReportingSettings,
    database: Database,
    rollups: SubtreeRollups,
    bank: QuestionBank,
    benchmarks: Benchmarks,
    cookies: Cookies,
    pages: Pages,
) -> APIRouter:
    router = APIRouter(prefix=PREFIX, include_in_schema=False)
    k, t = settings.min_group_size, pages.t

    async def trend_of(unit_id: str, weeks: int, to_week: str | None = None) -> Trend:
        return await unit_trend(database, rollups, await unit_of(unit_id), last(to_week), weeks, k)

    def last(to_week: str | None) -> date:
        """The window's last week, as the API decides it: a week is shown once it is over and its
        responses are in (``publication``); a week not shown yet is a 422 page saying from when."""
        return shown_through(to_week, date.today(), settings.publish_after_days, settings.show_week_in_progress)

    async def unit_of(unit_id: str) -> store.UnitSummary:
        unit = await store.unit_summary(database.pool, unit_id)
        if unit is None:
            raise not_found("unit", unit_id)
        return unit

    async def frame(request: Request, user: Principal, unit_id: str, name: str, current: str) -> dict[str, Any]:
        """What every unit page's layout needs: who is signed in, the navigation and the unit picker."""
        return {
            "signed_in": True,
            "principal": user,
            "csrf_token": csrf_token(request.cookies.get(cookies.session, "")),
            "unit_id": unit_id,
            "unit_name": name,
            "current": current,
            "sections": [
                {"key": s.key, "title": s.title, "url": unit_url(unit_id, s.suffix), "current": s.key == current}
                for s in SECTIONS
            ],
            "scope": await store.units_below(database.pool, user.units, PICKER_LIMIT),
        }

    @router.get("/")
    async def home(user: Viewer) -> Response:
        first = await store.units_below(database.pool, user.units, 1)
        if not first:
            return pages.message(200, t("no_units_title"), t("no_units_body"))
        return RedirectResponse(unit_url(first[0].unit_id), status_code=303)

    @router.get("/go")
    async def go(
        user: Viewer,
        unit: Annotated[str, Query(min_length=1, max_length=64, pattern=UNIT_ID_PATTERN)],
        section: Annotated[str, Query(max_length=32)] = "overview",
    ) -> Response:
        """The unit picker's form: to the same section of the unit chosen (which checks the scope)."""
        chosen = _BY_KEY.get(section, SECTIONS[0])
        return RedirectResponse(unit_url(unit, chosen.suffix), status_code=303)

    @router.get("/units/{unit_id}")
    async def overview(request: Request, user: SessionUser, unit_id: PageUnit) -> Response:
        trend = await trend_of(unit_id, OVERVIEW_WEEKS)
        unit, days = await unit_of(unit_id), window(last(None), OVERVIEW_WEEKS)
        alerts = await unit_alert_counts(database.pool, rollups, unit, days[0], days[-1])
        banded = await heatmap.unit_heatmap(database.pool, rollups, benchmarks, unit, days[-1], WINDOW_WEEKS, k)
        return pages.render(
            "overview.html",
            view=overview_view(trend),
            bands=bands_view(banded, WINDOW_WEEKS),
            alerts=alerts,
            alert_rows=alerts_view(alerts),
            **await frame(request, user, unit_id, trend.name, "overview"),
        )

    @router.get("/units/{unit_id}/trends")
    async def trends(
        request: Request,
        user: SessionUser,
        unit_id: PageUnit,
        weeks: Annotated[int, Query(ge=1, le=104)] = 12,
        to_week: IsoWeek | None = None,
    ) -> Response:
        trend = await trend_of(unit_id, weeks, to_week)
        text = {scale: _chart_text(pages, scale, trend) for scale in HseScale}
        return pages.render(
            "trends.html",
            view=trends_view(trend, text),
            weeks=weeks,
            week_choices=sorted({*WEEK_CHOICES, weeks}),
            **await frame(request, user, unit_id, trend.name, "trends"),
        )

    @router.get("/units/{unit_id}/heatmap")
    async def heatmap_of(
        request: Request,
        user: SessionUser,
        unit_id: PageUnit,
        weeks: Annotated[int, Query(ge=1, le=52)] = WINDOW_WEEKS,
        to_week: IsoWeek | None = None,
    ) -> Response:
        unit = await unit_of(unit_id)
        answer = await heatmap.unit_heatmap(database.pool, rollups, benchmarks, unit, last(to_week), weeks, k)
        return pages.render(
            "heatmap.html",
            view=heatmap_page(answer),
            weeks=weeks,
            week_choices=sorted({*WINDOW_CHOICES, weeks}),
            **await frame(request, user, unit_id, unit.name, "heatmap"),
        )

    @router.get("/units/{unit_id}/changes")
    async def changes_of(
        request: Request,
        user: SessionUser,
        unit_id: PageUnit,
        weeks: Annotated[int, Query(ge=1, le=52)] = WINDOW_WEEKS,
        to_week: IsoWeek | None = None,
    ) -> Response:
        unit = await unit_of(unit_id)
        answer = await changes.unit_changes(database.pool, rollups, bank, unit, last(to_week), weeks, k)
        text = ChangesText(
            names={change: t(f"change_{change}") for change in answer.changes},
            axis=t("changes_axis"),
            suppressed=t("suppressed", k=k),
            description=t("changes_chart_description", unit=unit.name, first=answer.first_week, last=answer.last_week),
        )
        return pages.render(
            "changes.html",
            view=changes_page(answer, text),
            weeks=weeks,
            week_choices=sorted({*WINDOW_CHOICES, weeks}),
            **await frame(request, user, unit_id, unit.name, "changes"),
        )

    @router.get("/units/{unit_id}/detail")
    async def detail_of(
        request: Request,
        user: SessionUser,
        unit_id: PageUnit,
        weeks: Annotated[int, Query(ge=1, le=52)] = WINDOW_WEEKS,
        to_week: IsoWeek | None = None,
    ) -> Response:
        unit, through = await unit_of(unit_id), last(to_week)
        answer = await items.unit_items(database.pool, rollups, bank, unit, through, weeks, k)
        rates = await heatmap.unit_heatmap(database.pool, rollups, benchmarks, unit, through, weeks, k)
        return pages.render(
            "detail.html",
            view=detail_page(answer, rates, _detail_text(pages, answer)),
            weeks=weeks,
            week_choices=sorted({*WINDOW_CHOICES, weeks}),
            **await frame(request, user, unit_id, unit.name, "detail"),
        )

    return router


def _chart_text(pages: Pages, scale: HseScale, trend: Trend) -> ChartText:
    name = pages.t(f"scale_{scale.value}")
    return ChartText(
        name=name,
        axis=pages.t("chart_axis"),
        suppressed=pages.t("suppressed", k=trend.min_group_size),
        description=pages.t("chart_description", scale=name, unit=trend.name, weeks=len(trend.weeks)),
    )


def _detail_text(pages: Pages, answer: items.ItemsView) -> DetailText:
    t = pages.t
    return DetailText(
        scores={str(score): t(f"score_{score}") for score in SCORES},
        axis=t("items_axis"),
        suppressed=t("suppressed", k=answer.min_group_size),
        descriptions={
            scale: t(
                "items_chart_description",
                scale=t(f"scale_{scale.value}"),
                unit=answer.name,
                first=answer.first_week,
                last=answer.last_week,
            )
            for scale in HseScale
        },
    )
