"""The OpenAPI document says what a service really answers: every status, every content type.

FastAPI documents what handlers declare. On top of that, this adds what the shared parts answer
for every route: 401/503 where a bearer token is needed, 403 or 404 as the auth seam decides, the
roles each operation needs (``x-wellpulse-roles``), 413 where a body is taken, and 422 as the
problem+json it really is.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from wellpulse.common.auth.dependencies import CallerScope, RoleCheck, UnitInScope, current_user
from wellpulse.common.http import PROBLEM_JSON, ProblemDetails

PROBLEM_REF = {"$ref": "#/components/schemas/ProblemDetails"}
AuthCheck = RoleCheck | CallerScope | UnitInScope


def problem_doc(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}}}


def document_answers(app: FastAPI, routers: Sequence[APIRouter]) -> None:
    """Replace ``app.openapi`` with one that adds the shared answers to each of the routers' operations."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schema.setdefault("components", {}).setdefault("schemas", {})["ProblemDetails"] = (
                ProblemDetails.model_json_schema()
            )
            for route in (r for router in routers for r in router.routes):
                if isinstance(route, APIRoute) and route.include_in_schema:
                    for method in route.methods or ():
                        _amend(schema["paths"][route.path_format][method.lower()], route)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _amend(operation: dict[str, Any], route: APIRoute) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    if "422" in responses or route.dependant.path_params or route.dependant.query_params or route.body_field:
        # FastAPI documents its own validation body; this service answers problem+json instead.
        invalid = responses.setdefault("422", {"description": "The request is not valid; every problem is listed"})
        content = invalid.setdefault("content", {})
        content.pop("application/json", None)
        content[PROBLEM_JSON] = {"schema": PROBLEM_REF}
    if route.dependant.query_params:
        # Answered before routing (common.limits), whatever the path: a query string can be made long.
        responses.setdefault("414", problem_doc("The URL is longer than this service accepts"))
    if "requestBody" in operation:
        responses.setdefault("413", problem_doc("The body is larger than this endpoint accepts"))
        responses.setdefault("400", problem_doc("The body could not be read: send it as UTF-8"))
    calls = [d.call for d in _walk(route.dependant)]
    if current_user not in calls:
        return
    responses.setdefault("401", problem_doc("No bearer token, or one that was refused; the detail says why"))
    responses.setdefault("503", problem_doc("The identity provider's keys cannot be fetched; retry shortly"))
    checks = [c for c in calls if isinstance(c, AuthCheck)]
    if any(c.answers == 403 for c in checks):
        responses.setdefault("403", problem_doc("The token does not grant the role this needs"))
    if any(c.answers == 404 for c in checks):
        responses.setdefault("404", problem_doc("No such resource, or not within the caller's scope"))
    roles = sorted({role.value for c in checks for role in c.roles})
    if roles:
        operation["x-wellpulse-roles"] = roles
        operation["description"] = (
            operation.get("description", "") + f"\n\nNeeds the role: {' or '.join(roles)}."
        ).strip()


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _walk(sub)
