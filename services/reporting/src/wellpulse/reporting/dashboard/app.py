"""``build_dashboard(settings, ...)``: the dashboard's routers, sessions and error pages, for
reporting's ``build`` to hand to ``service_app``. Nothing is created at import."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter

from wellpulse.common.bank import QuestionBank
from wellpulse.common.db import Database
from wellpulse.common.rollups import SubtreeRollups
from wellpulse.reporting.benchmarks import Benchmarks
from wellpulse.reporting.dashboard.oidc import SignInClient
from wellpulse.reporting.dashboard.pages import pages_router
from wellpulse.reporting.dashboard.render import DashboardErrors, Pages
from wellpulse.reporting.dashboard.sessions import Cookies, PostgresSessions
from wellpulse.reporting.dashboard.signin import sign_in_router
from wellpulse.reporting.dashboard.static import StaticFiles
from wellpulse.reporting.settings import ReportingSettings


@dataclass(frozen=True)
class Dashboard:
    routers: list[APIRouter]
    sessions: PostgresSessions
    errors: DashboardErrors


def build_dashboard(
    settings: ReportingSettings,
    database: Database,
    rollups: SubtreeRollups,
    bank: QuestionBank,
    benchmarks: Benchmarks,
) -> Dashboard:
    static = StaticFiles()
    pages = Pages(k=settings.min_group_size, static=static)
    sessions = PostgresSessions(database, Cookies(secure=settings.secure_cookies))
    routers = [
        static.router(),
        sign_in_router(settings, SignInClient(settings), sessions, pages),
        pages_router(settings, database, rollups, bank, benchmarks, sessions.cookies, pages),
    ]
    return Dashboard(routers, sessions, DashboardErrors(pages))
