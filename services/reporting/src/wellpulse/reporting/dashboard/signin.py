"""The dashboard's sign-in and sign-out routes: thin, over ``oidc`` (the provider), ``sessions``
(this service's records) and the shared token code (``Authenticator.signed_in``).

    GET  /dashboard/sign-in?next=...   a sign-in starts: state, nonce and PKCE kept here, browser to the provider
    GET  /dashboard/auth/callback      the provider's answer, accepted only in the browser that started it
    POST /dashboard/sign-out           ends the session (its CSRF token required)
"""

from __future__ import annotations

import hmac
import logging
import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from wellpulse.common.auth import Role
from wellpulse.common.auth.authenticator import Authenticator
from wellpulse.common.http import Problem
from wellpulse.reporting.dashboard.oidc import SignInClient, SignInFailed
from wellpulse.reporting.dashboard.render import PREFIX, Pages
from wellpulse.reporting.dashboard.sessions import (
    SIGN_IN_SECONDS,
    PendingSignIn,
    SessionStore,
    csrf_matches,
    session_expiry,
)
from wellpulse.reporting.settings import ReportingSettings

log = logging.getLogger(__name__)
DASHBOARD_ROLES = frozenset({Role.leader, Role.hr})
HOME = f"{PREFIX}/"
# A path on the dashboard, and nothing that a browser could read as another site (//host, \\host).
_RETURN_PATH = re.compile(r"/dashboard(?:[/?][^\\\s]*)?")
NO_STORE = {"Cache-Control": "no-store"}


def safe_return_path(value: str | None) -> str:
    """Where to go after signing in: the page asked for, when it is one of the dashboard's; else home."""
    if not value or len(value) > 2048 or not _RETURN_PATH.fullmatch(value) or "//" in value:
        return HOME
    return value


def sign_in_router(settings: ReportingSettings, client: SignInClient, store: SessionStore, pages: Pages) -> APIRouter:
    router = APIRouter(prefix=PREFIX, include_in_schema=False)
    cookies, t = store.cookies, pages.t

    def try_again(status: int, title: str, *paragraphs: str) -> Response:
        page = pages.message(status, t(title), *(t(p) for p in paragraphs), link=(HOME, t("sign_in_again")))
        cookies.clear(page, cookies.sign_in)
        return page

    @router.get("/sign-in")
    async def sign_in(next_page: Annotated[str | None, Query(alias="next", max_length=2048)] = None) -> Response:
        try:
            authorization = await client.authorization()
        except SignInFailed as failed:
            log.warning("cannot start a dashboard sign-in: %s", failed)
            return pages.message(503, t("provider_unavailable_title"), t("provider_unavailable_body"))
        pending = PendingSignIn(
            authorization.state, authorization.nonce, authorization.code_verifier, safe_return_path(next_page)
        )
        response = RedirectResponse(authorization.url, status_code=302, headers=NO_STORE)
        cookies.set(response, cookies.sign_in, await store.begin_sign_in(pending), SIGN_IN_SECONDS)
        return response

    @router.get("/auth/callback")
    async def callback(
        request: Request,
        code: Annotated[str | None, Query(max_length=4096)] = None,
        state: Annotated[str | None, Query(max_length=1024)] = None,
        error: Annotated[str | None, Query(max_length=256)] = None,
    ) -> Response:
        binding = request.cookies.get(cookies.sign_in)
        pending = await store.finish_sign_in(binding) if binding else None
        if pending is None or not state or not hmac.compare_digest(state.encode(), pending.state.encode()):
            return try_again(400, "stale_sign_in_title", "stale_sign_in_body")
        if error or not code:
            # The provider's own words are not shown: they arrive in the URL, from anyone.
            log.info("the identity provider answered a dashboard sign-in with %r", error)
            return try_again(400, "provider_refused_title", "provider_refused_body")
        try:
            id_token = await client.id_token(code, pending.code_verifier)
        except SignInFailed as failed:
            log.warning("dashboard sign-in: %s", failed)
            if failed.unavailable:
                return try_again(503, "provider_unavailable_title", "provider_unavailable_body")
            return try_again(400, "provider_refused_title", "provider_refused_body")
        authenticator: Authenticator = request.app.state.authenticator
        try:
            verified = await authenticator.signed_in(id_token, client_id=client.client_id, nonce=pending.nonce)
        except Problem as refused:
            log.warning("a dashboard sign-in's id token was refused: %s", refused.detail)
            page = pages.message(
                refused.status, t("token_refused_title"), refused.detail, link=(HOME, t("sign_in_again"))
            )
            cookies.clear(page, cookies.sign_in)
            return page
        principal = verified.principal
        if not principal.has_any(DASHBOARD_ROLES):
            authenticator.forbidden()
            granted = ", ".join(sorted(principal.roles)) or t("no_role")
            page = pages.message(403, t("wrong_role_title"), t("wrong_role_body", roles=granted))
            cookies.clear(page, cookies.sign_in)
            return page
        now = datetime.now(UTC)
        expires = session_expiry(verified.expires_at, now, settings.dashboard_session_max_seconds)
        lasts = int((expires - now).total_seconds())
        if lasts < 1:
            return try_again(401, "token_refused_title", "expired_token_body")
        response = RedirectResponse(pending.return_to, status_code=303, headers=NO_STORE)
        cookies.set(response, cookies.session, await store.open(principal, expires), lasts)
        cookies.clear(response, cookies.sign_in)
        return response

    @router.post("/sign-out")
    async def sign_out(request: Request) -> Response:
        session_id = request.cookies.get(cookies.session)
        if session_id:
            async with request.form(max_files=0, max_fields=8) as form:
                sent = form.get("csrf_token")
            if not csrf_matches(session_id, sent):
                return pages.message(403, t("csrf_title"), t("csrf_body"), link=(HOME, t("back_to_dashboard")))
            await store.close(session_id)
        response = RedirectResponse(f"{PREFIX}/signed-out", status_code=303, headers=NO_STORE)
        cookies.clear(response, cookies.session)
        return response

    @router.get("/signed-out")
    async def signed_out() -> Response:
        return pages.message(200, t("signed_out_title"), t("signed_out_body"), link=(HOME, t("sign_in_again")))

    return router
