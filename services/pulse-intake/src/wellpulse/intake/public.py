"""What staff reach: the form behind their one-time link, and the same as a JSON API.

Staff never log in; the link is the only credential and it proves nothing about who. Pages carry
no-referrer and no-store so the token does not leak into another site's logs or a shared cache.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from wellpulse.common.bank import QuestionBank
from wellpulse.common.db import Database
from wellpulse.common.http import problem
from wellpulse.common.openapi import problem_doc
from wellpulse.intake import store
from wellpulse.intake.responses import Outcome, ResponseDesk, Result
from wellpulse.intake.settings import IntakeSettings
from wellpulse.intake.signposts import DEFAULT_SIGNPOSTS, Signposts
from wellpulse.intake.web import Pages, parse_form

Lang = Literal["en", "cy"]
Token = Annotated[str, Path(max_length=100, description="The one-time token from the link")]
PRIVATE = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}


def _page(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before sending the same answers again",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    }
}
PAGES: dict[int | str, dict[str, Any]] = {
    200: _page("The form; or, for a link already used, a page that says so"),
    404: _page("The link is not recognised"),
    410: _page(
        "The round has closed, or its week is over (answers are taken until INTAKE_LATE_ANSWER_DAYS after its Sunday)"
    ),
    503: {
        **_page(
            "The answer could not be recorded right now (Kafka did not acknowledge it in time, or the same "
            "link is being sent elsewhere); the link still works"
        ),
        "headers": RETRY_AFTER,
    },
}
LINK_PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: problem_doc("Unknown link"),
    409: problem_doc("This link has already been used"),
    410: problem_doc(
        "The round has closed, or its week is over: then `iso_week` and `answers_until` (the last day it took "
        "answers) say so"
    ),
}
FORM_BODY = {
    "requestBody": {
        "content": {"application/x-www-form-urlencoded": {"schema": {"type": "object", "additionalProperties": True}}}
    }
}


class ResponseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=100)
    answers: dict[str, int | str | None] = Field(max_length=64)


def public_router(
    settings: IntakeSettings, database: Database, bank: QuestionBank, desk: ResponseDesk, pages: Pages
) -> APIRouter:
    router = APIRouter()

    async def signposts() -> Signposts:
        document = await store.signposts_document(database.pool)
        return Signposts.model_validate_json(document) if document else DEFAULT_SIGNPOSTS

    def html(body: str, status: int = 200, **headers: str) -> HTMLResponse:
        return HTMLResponse(body, status_code=status, headers={**PRIVATE, **headers})

    async def page_for(result: Result, lang: str) -> HTMLResponse:
        match result.outcome:
            case Outcome.accepted:
                return html(
                    pages.thank_you(lang=lang, signposts=await signposts(), bullying_reported=result.bullying_reported)
                )
            case Outcome.already_answered:
                return html(pages.already_answered(lang=lang))
            case Outcome.closed:
                return html(pages.closed(lang=lang), 410)
            case Outcome.unavailable:
                return html(pages.unavailable(lang=lang), 503, **{"Retry-After": str(settings.retry_after_seconds)})
            case _:
                return html(pages.unknown_link(lang=lang), 404)

    @router.get("/p/{token}", response_class=HTMLResponse, tags=["staff"], summary="This week's pulse", responses=PAGES)
    async def open_form(token: Token, lang: Annotated[Lang, Query()] = "en") -> HTMLResponse:
        found = await desk.look_up(token)
        if found.outcome is not Outcome.accepted or found.link is None:
            return await page_for(found, lang)
        return html(
            pages.form(token=token, lang=lang, codes=found.link.pulse.items, iso_week=found.link.pulse.iso_week)
        )

    @router.post(
        "/p/{token}",
        response_class=HTMLResponse,
        tags=["staff"],
        summary="Send the pulse",
        responses={**PAGES, 422: _page("Some answers need correcting: the form again, with each problem named")},
        openapi_extra=FORM_BODY,
    )
    async def send_form(token: Token, request: Request) -> HTMLResponse:
        form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        lang = form.get("lang", "en")
        lang = lang if lang in ("en", "cy") else "en"
        found = await desk.look_up(token)
        if found.link is None:
            return await page_for(found, lang)
        answers = parse_form(form, found.link.pulse.items)
        result = await desk.submit(token, answers)
        if result.outcome is Outcome.invalid:
            given = {code: value for code, value in answers.items() if value is not None}
            return html(
                pages.form(
                    token=token,
                    lang=lang,
                    codes=found.link.pulse.items,
                    iso_week=found.link.pulse.iso_week,
                    answers=given,
                    errors=result.errors,
                ),
                422,
            )
        return await page_for(result, lang)

    @router.get(
        "/v1/links/{token}",
        tags=["responses"],
        summary="The items behind a link, with their wording",
        responses=LINK_PROBLEMS,
    )
    async def link_items(token: Token) -> Any:
        found = await desk.look_up(token)
        if found.outcome is not Outcome.accepted or found.link is None:
            return _problem(found, settings)
        pulse = found.link.pulse
        return {
            "iso_week": pulse.iso_week,
            "items": [
                {"code": code, "response": bank.item(code).response, "text": bank.item(code).text}
                for code in pulse.items
            ],
        }

    @router.post(
        "/v1/responses",
        status_code=202,
        tags=["responses"],
        summary="Submit one anonymous response with a one-time link token",
        description=(
            "Accepted (202) only once Kafka has acknowledged the event; the link is then spent. "
            "Nothing about the sender is kept: no time finer than the day, no address, no user agent."
        ),
        responses={
            **LINK_PROBLEMS,
            422: problem_doc("Invalid answers; every problem is listed"),
            503: {
                **problem_doc(
                    "Kafka did not acknowledge in time, or the same link is being sent elsewhere at this moment; "
                    "nothing taken; the link still works; retry after Retry-After seconds"
                ),
                "headers": RETRY_AFTER,
            },
        },
    )
    async def submit_response(body: ResponseIn) -> Any:
        result = await desk.submit(body.token, body.answers)
        if result.outcome is Outcome.accepted:
            return JSONResponse({"status": "accepted"}, status_code=202, headers=PRIVATE)
        return _problem(result, settings)

    return router


def _problem(result: Result, settings: IntakeSettings) -> Response:
    match result.outcome:
        case Outcome.already_answered:
            return problem(409, "Already answered", "This link has already been used for this week's pulse.")
        case Outcome.closed if result.answers_until is not None and result.link is not None:
            week, until = result.link.pulse.iso_week, result.answers_until.isoformat()
            return problem(
                410,
                "Closed",
                f"This pulse, for {week}, took answers until {until} (UTC) and that has passed, so nothing was "
                "saved. Each week's pulse comes with a new link.",
                iso_week=week,
                answers_until=until,
            )
        case Outcome.closed:
            return problem(410, "Closed", "This pulse round has closed, so nothing was saved.")
        case Outcome.invalid:
            detail = "; ".join(f"{code}: {msg}" for code, msg in result.errors.items())
            return problem(422, "Some answers need correcting", detail, errors=result.errors)
        case Outcome.unavailable:
            return problem(
                503,
                "Service Unavailable",
                "Could not record this right now and nothing was saved; the link still works.",
                headers={"Retry-After": str(settings.retry_after_seconds)},
            )
        case _:
            return problem(404, "Unknown link", "This link is not recognised.")
