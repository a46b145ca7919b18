"""The dashboard session's pure pieces: cookie attributes, the CSRF token, when a session ends, and
which return addresses a sign-in may go back to."""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.responses import Response
from hypothesis import given
from hypothesis import strategies as st

from wellpulse.common.settings import ConfigurationError
from wellpulse.reporting.dashboard.sessions import Cookies, csrf_matches, csrf_token, new_secret, session_expiry
from wellpulse.reporting.dashboard.signin import safe_return_path
from wellpulse.reporting.settings import ReportingSettings

ISSUER = "https://login.example.org/tenant/v2.0"


def _set_cookie(cookies: Cookies, name: str) -> str:
    response = Response()
    cookies.set(response, name, "value", 600)
    [header] = response.headers.getlist("set-cookie")
    return header


def test_cookies_outside_development_are_secure_host_only_httponly_and_lax() -> None:
    cookies = Cookies(secure=True)
    assert cookies.session == "__Host-wellpulse-session"
    header = _set_cookie(cookies, cookies.session)
    attributes = {part.strip().split("=")[0].lower() for part in header.split(";")}
    assert {"httponly", "secure", "path", "max-age"} <= attributes
    assert "domain" not in attributes, "__Host- cookies name no domain"
    assert "samesite=lax" in header.lower()
    assert "path=/" in header.lower()


def test_cookies_in_development_are_not_secure_so_plain_http_on_a_laptop_works() -> None:
    cookies = Cookies(secure=False)
    assert cookies.sign_in == "wellpulse-sign-in"
    header = _set_cookie(cookies, cookies.sign_in).lower()
    assert "secure" not in header
    assert "httponly" in header


def test_settings_make_cookies_secure_outside_development_and_insist_on_https(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("ENVIRONMENT", "PUBLIC_URL", "DASHBOARD_REDIRECT_URL", "DASHBOARD_CLIENT_ID"):
        monkeypatch.delenv(f"REPORTING_{name}", raising=False)
    production = ReportingSettings(
        oidc_issuer=ISSUER, dashboard_client_id="dash", public_url="https://wellpulse.example.org/"
    )
    assert production.secure_cookies
    assert production.dashboard_callback_url == "https://wellpulse.example.org/dashboard/auth/callback"
    assert not ReportingSettings(environment="development").secure_cookies
    with pytest.raises(ConfigurationError, match="https"):
        ReportingSettings(oidc_issuer=ISSUER, dashboard_client_id="dash", public_url="http://wellpulse.example.org")
    with pytest.raises(ConfigurationError, match="openid"):
        ReportingSettings(
            oidc_issuer=ISSUER, dashboard_client_id="dash", public_url="https://w.example", dashboard_scopes="profile"
        )


def test_a_csrf_token_belongs_to_one_session_and_does_not_reveal_it() -> None:
    first, second = new_secret(), new_secret()
    assert csrf_token(first) == csrf_token(first)
    assert csrf_token(first) != csrf_token(second)
    assert first not in csrf_token(first)
    assert csrf_matches(first, csrf_token(first))
    for sent in (csrf_token(second), "", None, ["a list"], csrf_token(first)[:-1]):
        assert not csrf_matches(first, sent)


@given(
    lifetime=st.integers(min_value=-3600, max_value=30 * 24 * 3600),
    cap=st.integers(min_value=60, max_value=7 * 24 * 3600),
)
def test_a_session_ends_with_its_token_and_never_after_the_cap(lifetime: int, cap: int) -> None:
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    ends = session_expiry(int(now.timestamp()) + lifetime, now, cap)
    assert ends == now + timedelta(seconds=min(lifetime, cap))


@pytest.mark.parametrize(
    "target",
    ["/dashboard", "/dashboard/", "/dashboard/units/cs-assess-a/trends?weeks=26", "/dashboard?x=1"],
)
def test_a_sign_in_returns_to_the_dashboard_page_it_was_asked_for(target: str) -> None:
    assert safe_return_path(target) == target


@pytest.mark.parametrize(
    "target",
    [
        None,
        "",
        "https://evil.example/dashboard",
        "//evil.example/dashboard",
        "/dashboard//evil.example",
        "/dashboardevil",
        "/dashboard/\\evil.example",
        "/dashboard/units/x\n/evil",
        "/elsewhere",
        "javascript:alert(1)",
        "/dashboard/" + "x" * 2048,
    ],
)
def test_a_sign_in_never_returns_anywhere_else(target: str | None) -> None:
    assert safe_return_path(target) == "/dashboard/"


@given(st.text(alphabet=string.printable + "\\/é", max_size=80))
def test_every_return_address_is_a_path_on_the_dashboard(target: str) -> None:
    chosen = safe_return_path("/dashboard" + target)
    assert chosen == "/dashboard/" or chosen == "/dashboard" + target
    assert chosen.startswith("/dashboard")
    assert "//" not in chosen
    assert "\\" not in chosen
    assert not any(c.isspace() for c in chosen)
