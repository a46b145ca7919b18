"""The dashboard's sign-in against the development issuer over real HTTP, in-process: the browser's
hops through authorization code + PKCE, the cookies, a callback accepted once and only in the
browser that started it, the nonce, the roles the dashboard takes, CSRF on sign-out, sign-out that
ends the session, and the auth seam's 404 for a unit outside the session's scope. Sessions are kept
by a fake here (their SQL is tested in tests/integration/test_stores.py)."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request
from prometheus_client import CollectorRegistry

from wellpulse.common.auth import Principal, Role, SessionRoleCheck, SessionUser, UnitInSessionScope
from wellpulse.common.auth.authenticator import Authenticator
from wellpulse.common.http import install_problem_handlers
from wellpulse.devstack.issuer import DevIssuer
from wellpulse.devstack.issuer_signin import pkce_challenge
from wellpulse.reporting.dashboard.oidc import SignInClient
from wellpulse.reporting.dashboard.render import DashboardErrors, Pages
from wellpulse.reporting.dashboard.sessions import Cookies, PendingSignIn, csrf_token, digest
from wellpulse.reporting.dashboard.signin import sign_in_router
from wellpulse.reporting.dashboard.static import StaticFiles
from wellpulse.reporting.publication import shown_through
from wellpulse.reporting.settings import ReportingSettings

BASE = "http://127.0.0.1:8004"
CALLBACK = f"{BASE}/dashboard/auth/callback"
PARENTS: dict[str, str | None] = {"org": None, "north": "org", "north-a": "north", "south": "org"}


@dataclass
class FakeSessions:
    """The ``SessionStore`` the routes see, in memory; keyed by the hashes, as the real one is."""

    cookies: Cookies = field(default_factory=lambda: Cookies(secure=False))
    sessions: dict[bytes, tuple[Principal, datetime]] = field(default_factory=dict)
    pending: dict[bytes, PendingSignIn] = field(default_factory=dict)

    async def principal(self, request: Request) -> Principal | None:
        found = self.sessions.get(digest(request.cookies.get(self.cookies.session, "")))
        return found[0] if found and found[1] > datetime.now(UTC) else None

    async def open(self, principal: Principal, expires_at: datetime) -> str:
        session_id = f"session-{len(self.sessions)}-{'x' * 32}"
        self.sessions[digest(session_id)] = (principal, expires_at)
        return session_id

    async def close(self, session_id: str) -> None:
        self.sessions.pop(digest(session_id), None)

    async def begin_sign_in(self, pending: PendingSignIn) -> str:
        binding = f"binding-{len(self.pending)}"
        self.pending[digest(binding)] = pending
        return binding

    async def finish_sign_in(self, binding: str) -> PendingSignIn | None:
        return self.pending.pop(digest(binding), None)


class FakeOrgTree:
    async def ancestors(self, unit_id: str) -> Sequence[str]:
        chain, unit = [], unit_id if unit_id in PARENTS else None
        while unit is not None:
            chain.append(unit)
            unit = PARENTS[unit]
        return chain


@pytest.fixture
def issuer(tmp_path: Path) -> Iterator[DevIssuer]:
    running = DevIssuer(tmp_path / "issuer", environment="development")
    running.start()
    running.register_client("dash", [CALLBACK], "s3cret")
    try:
        yield running
    finally:
        running.stop()


@dataclass
class Dashboard:
    app: FastAPI
    sessions: FakeSessions
    browser: httpx.AsyncClient


@pytest.fixture
async def dashboard(issuer: DevIssuer, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Dashboard]:
    for name in ("ENVIRONMENT", "OIDC_ISSUER", "DASHBOARD_CLIENT_ID", "PUBLIC_URL"):
        monkeypatch.delenv(f"REPORTING_{name}", raising=False)
    settings = ReportingSettings(
        environment="development",
        oidc_issuer=issuer.url,
        dashboard_client_id="dash",
        dashboard_client_secret="s3cret",
        public_url=BASE,
    )
    sessions = FakeSessions()
    pages = Pages(k=5, static=StaticFiles())
    app = FastAPI()
    authenticator = Authenticator(settings, "reporting", CollectorRegistry())
    app.state.authenticator, app.state.sessions, app.state.org_tree = authenticator, sessions, FakeOrgTree()
    probe = APIRouter(prefix="/dashboard")

    @probe.get("/whoami")
    async def whoami(user: SessionUser) -> dict[str, Any]:
        return {"subject": user.subject, "roles": sorted(user.roles), "units": list(user.units)}

    @probe.get("/leaders-and-hr")
    async def leaders_and_hr(user: Annotated[Principal, Depends(SessionRoleCheck(Role.leader, Role.hr))]) -> str:
        return user.subject

    @probe.get("/units/{unit_id}")
    async def unit(unit_id: Annotated[str, Depends(UnitInSessionScope(Role.leader, Role.hr))]) -> dict[str, str]:
        return {"unit_id": unit_id}

    @probe.get("/week-not-shown")
    async def week_not_shown() -> None:
        shown_through("2099-W01", date(2026, 12, 1), 1)

    routers = [sign_in_router(settings, SignInClient(settings), sessions, pages), probe]
    for router in routers:
        app.include_router(router)
    install_problem_handlers(app, [r for router in routers for r in router.routes], DashboardErrors(pages))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as browser:
        yield Dashboard(app, sessions, browser)
    await authenticator.close()


def _hidden_fields(page: str) -> dict[str, str]:
    return {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="([^"]*)" value="([^"]*)">', page)
    }


async def _to_issuer(dashboard: Dashboard, page: str = "/dashboard/whoami") -> str:
    """The dashboard's sign-in start: where it sends the browser."""
    start = await dashboard.browser.get("/dashboard/sign-in", params={"next": page})
    assert start.status_code == 302, start.text
    return start.headers["Location"]


async def _at_issuer(authorize_url: str, role: str = "leader", units: str = "north") -> str:
    """The person on the issuer's page: its form, as they would send it. Returns the callback URL."""
    async with httpx.AsyncClient() as elsewhere:
        page = await elsewhere.get(authorize_url)
        assert page.status_code == 200, page.text
        answer = await elsewhere.post(
            authorize_url.split("?")[0], data=_hidden_fields(page.text) | {"role": role, "units": units}
        )
    assert answer.status_code == 303, answer.text
    location: str = answer.headers["Location"]
    assert location.startswith(CALLBACK + "?")
    return location.removeprefix(BASE)


async def _sign_in(dashboard: Dashboard, role: str = "leader", units: str = "north") -> httpx.Response:
    return await dashboard.browser.get(await _at_issuer(await _to_issuer(dashboard), role, units))


def _cookie(response: httpx.Response, name: str) -> str:
    [header] = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    return header


async def test_a_page_without_a_session_sends_the_browser_to_sign_in_and_back(dashboard: Dashboard) -> None:
    before = await dashboard.browser.get("/dashboard/whoami", params={"x": "1"})
    assert before.status_code == 303
    assert before.headers["Location"] == "/dashboard/sign-in?next=%2Fdashboard%2Fwhoami%3Fx%3D1"

    authorize = await _to_issuer(dashboard, "/dashboard/whoami?x=1")
    query = parse_qs(urlsplit(authorize).query)
    assert query["client_id"] == ["dash"]
    assert query["redirect_uri"] == [CALLBACK]
    assert query["code_challenge_method"] == ["S256"]
    [pending] = dashboard.sessions.pending.values()
    assert query["code_challenge"] == [pkce_challenge(pending.code_verifier)], "the verifier never left the service"
    assert pending.code_verifier not in authorize
    assert (query["state"], query["nonce"]) == ([pending.state], [pending.nonce])

    back = await dashboard.browser.get(await _at_issuer(authorize))
    assert back.status_code == 303, back.text
    assert back.headers["Location"] == "/dashboard/whoami?x=1"
    session_cookie = _cookie(back, "wellpulse-session").lower()
    assert "httponly" in session_cookie
    assert "samesite=lax" in session_cookie
    assert "path=/" in session_cookie
    assert "secure" not in session_cookie, "over http in development only"
    max_age = int(re.search(r"max-age=(\d+)", session_cookie).group(1))  # type: ignore[union-attr]
    assert 3500 <= max_age <= 3600, "the session lasts as long as the id token (an hour here)"
    assert _cookie(back, "wellpulse-sign-in").lower().count("max-age=0") == 1, "the sign-in cookie is cleared"

    me = await dashboard.browser.get("/dashboard/whoami")
    assert me.json() == {"subject": "dev-leader", "roles": ["leader"], "units": ["north"]}


async def test_the_providers_answer_is_accepted_once_and_only_in_the_browser_that_asked(
    dashboard: Dashboard,
) -> None:
    callback = await _at_issuer(await _to_issuer(dashboard))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=dashboard.app), base_url=BASE) as victim:
        # Another browser handed this URL (a login CSRF) is not signed in, and neither is anyone else.
        elsewhere = await victim.get(callback)
        assert elsewhere.status_code == 400
        assert "This sign-in has expired" in elsewhere.text
        assert "wellpulse-session" not in elsewhere.headers.get("set-cookie", "")
    assert (await dashboard.browser.get(callback)).status_code == 303
    again = await dashboard.browser.get(callback)
    assert again.status_code == 400, "the same answer twice"
    assert len(dashboard.sessions.sessions) == 1


async def test_a_tampered_state_or_a_foreign_nonce_opens_no_session(dashboard: Dashboard) -> None:
    callback = await _at_issuer(await _to_issuer(dashboard))
    tampered = re.sub(r"state=[^&]+", "state=forged", callback)
    assert (await dashboard.browser.get(tampered)).status_code == 400

    callback = await _at_issuer(await _to_issuer(dashboard))
    [(key, pending)] = dashboard.sessions.pending.items()
    dashboard.sessions.pending[key] = replace(pending, nonce="another-sign-in")
    refused = await dashboard.browser.get(callback)
    assert refused.status_code == 401
    assert "does not belong to the sign-in this browser started" in refused.text
    assert dashboard.sessions.sessions == {}


async def test_an_error_from_the_provider_is_a_page_without_its_words(dashboard: Dashboard) -> None:
    authorize = await _to_issuer(dashboard)
    state = parse_qs(urlsplit(authorize).query)["state"][0]
    answer = await dashboard.browser.get(
        "/dashboard/auth/callback",
        params={"error": "access_denied", "error_description": "<b>pwned</b>", "state": state},
    )
    assert answer.status_code == 400
    assert "You were not signed in" in answer.text
    assert "pwned" not in answer.text


async def test_only_leaders_and_hr_get_a_session(dashboard: Dashboard) -> None:
    admin = await _sign_in(dashboard, role="admin", units="")
    assert admin.status_code == 403
    assert "This dashboard is for leaders and HR" in admin.text
    assert "it has: admin" in admin.text
    assert dashboard.sessions.sessions == {}
    hr = await _sign_in(dashboard, role="hr", units="south")
    assert hr.status_code == 303
    assert (await dashboard.browser.get("/dashboard/whoami")).json()["roles"] == ["hr"]


async def test_a_unit_outside_the_sessions_scope_is_the_same_page_as_an_unknown_one(dashboard: Dashboard) -> None:
    await _sign_in(dashboard, units="north")
    assert (await dashboard.browser.get("/dashboard/units/north-a")).json() == {"unit_id": "north-a"}
    outside = await dashboard.browser.get("/dashboard/units/south")
    unknown = await dashboard.browser.get("/dashboard/units/atlantis")
    assert outside.status_code == unknown.status_code == 404
    assert outside.headers["content-type"].startswith("text/html")
    assert outside.text == unknown.text
    assert "south" not in outside.text


async def test_sign_out_needs_the_sessions_csrf_token_and_ends_the_session(dashboard: Dashboard) -> None:
    await _sign_in(dashboard)
    session_id = dashboard.browser.cookies["wellpulse-session"]
    forged = await dashboard.browser.post("/dashboard/sign-out", data={"csrf_token": csrf_token("another-session")})
    assert forged.status_code == 403
    assert (await dashboard.browser.post("/dashboard/sign-out")).status_code == 403
    assert (await dashboard.browser.get("/dashboard/whoami")).status_code == 200, "still signed in"

    out = await dashboard.browser.post("/dashboard/sign-out", data={"csrf_token": csrf_token(session_id)})
    assert out.status_code == 303
    assert out.headers["Location"] == "/dashboard/signed-out"
    assert dashboard.sessions.sessions == {}
    # Even a browser that kept the cookie is signed out: the session itself is gone.
    dashboard.browser.cookies.set("wellpulse-session", session_id)
    assert (await dashboard.browser.get("/dashboard/whoami")).status_code == 303


async def test_a_return_address_off_the_dashboard_is_not_followed(dashboard: Dashboard) -> None:
    for target in ("https://evil.example/", "//evil.example/dashboard", "/dashboard//evil.example", "/elsewhere"):
        authorize = await _to_issuer(dashboard, target)
        back = await dashboard.browser.get(await _at_issuer(authorize))
        assert back.headers["Location"] == "/dashboard/", target


async def test_a_session_without_the_role_gets_the_dashboards_refusal_page(dashboard: Dashboard) -> None:
    # Sessions open for leaders and HR only; the role check still stands on its own.
    admin = Principal("ada", frozenset({Role.admin}), ())
    session_id = await dashboard.sessions.open(admin, datetime.now(UTC).replace(year=2100))
    dashboard.browser.cookies.set("wellpulse-session", session_id)
    refused = await dashboard.browser.get("/dashboard/leaders-and-hr")
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("text/html")
    assert "This dashboard is for leaders and HR" in refused.text
    assert (await dashboard.browser.get("/dashboard/units/north")).status_code == 404


async def test_a_week_not_shown_yet_is_a_page_saying_from_when(dashboard: Dashboard) -> None:
    page = await dashboard.browser.get("/dashboard/week-not-shown")
    assert page.status_code == 422
    assert page.headers["content-type"].startswith("text/html")
    assert "That week is not shown yet" in page.text
    assert "2099-W01 is shown from 2099-01-06" in page.text
    assert "latest week shown today is 2026-W48" in page.text
