"""Rendering the dashboard: Jinja2 templates (autoescaped), the message catalogue, and the headers
every page carries. The Content Security Policy lets a page run only scripts served by reporting
itself; a chart's option travels as JSON data (``<script type="application/json">``), never as
code. Errors on the dashboard's paths become pages too (``DashboardErrors``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined

from wellpulse.common.auth import SignInRequired
from wellpulse.common.http import Problem
from wellpulse.common.messages import load_messages
from wellpulse.reporting.dashboard.static import StaticFiles

PREFIX = "/dashboard"
LANGUAGES = ("en",)  # a second language is a second column in messages.yaml (see the staff form's)
LANGUAGE = "en"
CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ]
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # Pages show a person's part of the organisation: never kept by a shared cache or the back button.
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}
_TEMPLATES = (
    "base.html",
    "unit.html",
    "overview.html",
    "trends.html",
    "window_form.html",
    "heatmap.html",
    "changes.html",
    "detail.html",
    "message.html",
)


class Pages:
    """Renders every dashboard page; built once at start-up (templates and messages are checked then)."""

    def __init__(self, *, k: int, static: StaticFiles) -> None:
        self.k = k
        self._static = static
        self._messages = load_messages("wellpulse.reporting", "dashboard/templates/messages.yaml", LANGUAGES)
        self._env = Environment(
            loader=PackageLoader("wellpulse.reporting", "dashboard/templates"),
            autoescape=True,
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self._env.filters["mean"] = lambda value: f"{value:.2f}"
        self._env.filters["percent"] = lambda value: f"{round(value * 100)}%"
        for name in _TEMPLATES:
            self._env.get_template(name)

    def t(self, key: str, **values: object) -> str:
        text = self._messages[key][LANGUAGE]
        return text.format(**values) if values else text

    def render(self, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
        defaults: dict[str, Any] = {
            "lang": LANGUAGE,
            "t": self.t,
            "k": self.k,
            "suppressed": self.t("suppressed", k=self.k),
            "static_url": self._static.url,
            "unit_url": unit_url,
            "signed_in": False,
        }
        body = self._env.get_template(template).render({**defaults, **context})
        return HTMLResponse(body, status_code=status, headers=PAGE_HEADERS)

    def message(self, status: int, title: str, *paragraphs: str, link: tuple[str, str] | None = None) -> HTMLResponse:
        """A page that says one thing: a heading, a few sentences, perhaps a way on (href, text)."""
        return self.render("message.html", status=status, title=title, paragraphs=paragraphs, link=link)


def sign_in_url(return_to: str) -> str:
    return f"{PREFIX}/sign-in?{urlencode({'next': return_to})}"


def unit_url(unit_id: str, suffix: str = "") -> str:
    return f"{PREFIX}/units/{quote(unit_id, safe='')}{suffix}"


class DashboardErrors:
    """``ErrorPages`` for the dashboard's paths: not signed in goes to sign-in; anything else is a
    page with the status. Out of scope and unknown render the same page, as the API answers the same."""

    def __init__(self, pages: Pages) -> None:
        self._pages = pages

    def render(self, request: Request, problem: Problem) -> Response | None:
        path = request.url.path
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            return None
        if isinstance(problem, SignInRequired) and request.method in ("GET", "HEAD"):
            here = path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(sign_in_url(here), status_code=303, headers={"Cache-Control": "no-store"})
        t = self._pages.t
        known = problem.status in (400, 401, 403, 404, 405, 422, 503)
        key = f"error_{problem.status}" if known else "error_other"
        title, body = t(f"{key}_title"), t(f"{key}_body")
        # Only these details help a person and give nothing away: which roles the dashboard needs,
        # why the provider could not be reached, and from when a week not shown yet will be.
        detail = (problem.detail,) if problem.status in (403, 503) else ()
        if "latest_week" in problem.extra:  # publication.shown_through
            title, body = problem.title, problem.detail
        page = self._pages.message(
            problem.status,
            title,
            body,
            *detail,
            link=(f"{PREFIX}/", t("back_to_dashboard")),
        )
        for name in ("Allow", "Retry-After"):
            if name in problem.headers:
                page.headers[name] = problem.headers[name]
        return page
