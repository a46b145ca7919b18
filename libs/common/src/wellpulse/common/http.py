"""HTTP conventions: errors as RFC 9457 problem+json with a message a person can act on, or, on a
service's HTML pages, as a page saying the same (``ErrorPages``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any, Protocol

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Match, Route

PROBLEM_JSON = "application/problem+json"


class ProblemDetails(BaseModel):
    """RFC 9457 problem details, as every error of every service is answered."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str


class Problem(Exception):
    """Raise to answer with problem+json: ``title`` names the problem, ``detail`` says what to do."""

    def __init__(
        self, status: int, title: str, detail: str, *, headers: Mapping[str, str] | None = None, **extra: Any
    ) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail
        self.headers = dict(headers or {})
        self.extra = extra


class ErrorPages(Protocol):
    def render(self, request: Request, problem: Problem) -> Response | None:
        """The HTML page for this problem when the request is for one of the service's pages, else None."""
        ...


def problem(
    status: int, title: str, detail: str, *, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def problem_response(description: str) -> dict[str, Any]:
    """An OpenAPI ``responses`` entry for a problem+json answer."""
    return {"description": description, "content": {PROBLEM_JSON: {"schema": ProblemDetails.model_json_schema()}}}


def install_problem_handlers(app: FastAPI, routes: Iterable[BaseRoute] = (), pages: ErrorPages | None = None) -> None:
    """Every error as problem+json, or as ``pages`` render it. ``routes``: all the app's routes, so a
    405 can list in ``Allow`` every method the path takes (Starlette names only those of the first
    route that matched)."""
    known = list(routes)

    def answer(request: Request, raised: Problem) -> Response:
        page = pages.render(request, raised) if pages is not None else None
        if page is not None:
            return page
        return problem(raised.status, raised.title, raised.detail, headers=raised.headers, **raised.extra)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        # Never echo the submitted values back: they may be wellbeing answers.
        errors = [{"location": ".".join(str(p) for p in err["loc"]), "message": err["msg"]} for err in exc.errors()]
        return answer(
            request,
            Problem(
                422,
                "The request is not valid",
                "; ".join(f"{e['location']}: {e['message']}" for e in errors),
                errors=errors,
            ),
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            allowed = {
                method
                for route in known
                if isinstance(route, Route) and route.matches(request.scope)[0] is Match.PARTIAL
                for method in route.methods or ()
            }
            if allowed:
                headers["Allow"] = ", ".join(sorted(allowed))
        return answer(
            request, Problem(exc.status_code, HTTPStatus(exc.status_code).phrase, str(exc.detail), headers=headers)
        )

    @app.exception_handler(Problem)
    async def raised_problem(request: Request, exc: Problem) -> Response:
        return answer(request, exc)
