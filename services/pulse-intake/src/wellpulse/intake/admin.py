"""Org admins' routes: the org tree, the roster, rounds and their links, support signposts.

Every route needs the admin role (organisation-wide); every change is audited. The workflows live
in ``imports``, ``links`` and ``rounds``: a route checks who is asking, calls one, and answers.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

import aiosmtplib
from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from faststream.kafka.publisher.usecase import DefaultPublisher

from wellpulse.common.audit import AuditTrail
from wellpulse.common.auth import Principal, Role, not_found, require
from wellpulse.common.bank import QuestionBank
from wellpulse.common.csvfile import csv_response
from wellpulse.common.db import Database
from wellpulse.common.events import iso_week_of
from wellpulse.common.http import Problem
from wellpulse.common.openapi import problem_doc
from wellpulse.intake import store
from wellpulse.intake.admin_models import (
    ORG_UPLOAD,
    ROSTER_UPLOAD,
    LinksEmailed,
    LinksIn,
    OrgImported,
    RosterImported,
    RoundIn,
    RoundOut,
    round_out,
)
from wellpulse.intake.answer_window import first_week_taking_answers, refuse_opening
from wellpulse.intake.files import FileInvalid
from wellpulse.intake.imports import import_org_tree, import_roster
from wellpulse.intake.links import LinkIssuer, LinksRefused
from wellpulse.intake.mail import Invitation, SmtpNotConfigured
from wellpulse.intake.org import parse_org
from wellpulse.intake.publishing import BrokerUnavailable
from wellpulse.intake.rounds import open_round_for_week
from wellpulse.intake.settings import IntakeSettings
from wellpulse.intake.signposts import DEFAULT_SIGNPOSTS, Signposts

AdminUser = Annotated[Principal, require(Role.admin)]
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: problem_doc("The broker did not acknowledge; nothing was changed; retry shortly")
}
PulseId = Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]


def admin_router(
    settings: IntakeSettings,
    database: Database,
    bank: QuestionBank,
    org_out: DefaultPublisher,
    issuer: LinkIssuer,
    audit: AuditTrail,
) -> APIRouter:
    router = APIRouter(prefix="/v1/admin", tags=["admin"])

    def change(user: Principal, action: str, target: str) -> Any:
        return audit.change(user, Role.admin, action, target)

    @router.put(
        "/org-units",
        summary="Import the whole org tree (CSV or JSON); all or nothing",
        description=(
            "Columns/fields: unit_id, parent_id (empty for the root), name, headcount. Every "
            "problem is reported with its line; nothing is imported unless the whole file is good. "
            "Changes are published to org.units (a removed unit as a tombstone); re-importing the "
            f"same file changes nothing. Up to {settings.max_import_bytes // (1024 * 1024)} MiB."
        ),
        openapi_extra=ORG_UPLOAD,
        responses={
            409: problem_doc("Units the file drops still have people on the roster; nothing was imported"),
            422: problem_doc("The file has problems, each named with its line and column; nothing was imported"),
            **UNAVAILABLE,
        },
    )
    async def import_org(request: Request, user: AdminUser) -> OrgImported:
        with change(user, "org.import", "org-tree") as entry:
            try:
                units = parse_org(await _text(request), _media_type(request))
            except FileInvalid as exc:
                raise _file_problem(exc, "The org file has problems") from None
            try:
                changes = await import_org_tree(database, org_out, units, settings.kafka_publish_timeout_seconds)
            except BrokerUnavailable:
                raise _unavailable(settings) from None
            except store.UnitsStillStaffed as exc:
                raise Problem(
                    409,
                    "Units still have people on the roster; nothing was imported",
                    "Import a roster that moves these people first: "
                    + ", ".join(f"{unit} ({n})" for unit, n in exc.people.items()),
                    units=exc.people,
                ) from None
            entry.update(units=len(units), created_or_updated=len(changes.upserted), removed=len(changes.removed))
        return OrgImported(
            units=len(units),
            created_or_updated=len(changes.upserted),
            removed=len(changes.removed),
            unchanged=changes.unchanged,
        )

    @router.put(
        "/roster",
        summary="Import the whole roster (CSV or JSON: email, unit_id); all or nothing",
        description=(
            "Used only to send each person this week's link. Never published, never linked to a "
            "link or a response. Every bad row is reported with its line; nothing is imported "
            f"unless the whole file is good. Up to {settings.max_import_bytes // (1024 * 1024)} MiB."
        ),
        openapi_extra=ROSTER_UPLOAD,
        responses={
            422: problem_doc("The file has problems, each named with its line and column; nothing was imported")
        },
    )
    async def put_roster(request: Request, user: AdminUser) -> RosterImported:
        with change(user, "roster.import", "roster") as entry:
            text, media_type = await _text(request), _media_type(request)
            try:
                people, changes = await import_roster(database, text, media_type)
            except FileInvalid as exc:
                raise _file_problem(exc, "The roster has problems") from None
            entry.update(people=people, added_or_moved=changes.added_or_moved, removed=changes.removed)
        return RosterImported(
            people=people, added_or_moved=changes.added_or_moved, removed=changes.removed, unchanged=changes.unchanged
        )

    @router.post(
        "/rounds",
        status_code=201,
        summary="Open the pulse round for an ISO week",
        description=(
            "Opens the week's round with the items the rotation picks for it, or returns the one already open. "
            "Only a week whose links would take answers can be opened: this week, a later one, or an earlier one "
            "while its late days run (INTAKE_LATE_ANSWER_DAYS after its Sunday)."
        ),
        responses={422: problem_doc("The week is over: its links would take no answers; says which weeks can be")},
    )
    async def open_round(body: RoundIn, user: AdminUser) -> RoundOut:
        today = date.today()
        iso_week = body.iso_week or iso_week_of(today)
        with change(user, "round.open", iso_week) as entry:
            late, past = settings.late_answer_days, settings.answer_past_weeks
            if refusal := refuse_opening(iso_week, today, late, past):
                raise Problem(422, "This week is over", refusal, first_week=first_week_taking_answers(today, late))
            pulse = await open_round_for_week(database.pool, bank, iso_week, settings.max_items_per_pulse)
            entry.update(pulse_id=pulse.pulse_id)
        return round_out(pulse, bank)

    @router.get(
        "/rounds/{pulse_id}",
        summary="A round, its items and how many links were issued",
        responses={404: problem_doc("No such round")},
    )
    async def get_round(pulse_id: PulseId, user: AdminUser) -> RoundOut:
        return round_out(await _existing_round(pulse_id), bank)

    @router.post(
        "/rounds/{pulse_id}/close",
        summary="Close a round: its links stop working",
        responses={404: problem_doc("No such round")},
    )
    async def close_round(pulse_id: PulseId, user: AdminUser) -> RoundOut:
        with change(user, "round.close", pulse_id):
            pulse = await store.close_round(database.pool, pulse_id)
            if pulse is None:
                raise not_found("pulse round", pulse_id)
        return round_out(pulse, bank)

    @router.post(
        "/rounds/{pulse_id}/links",
        summary="Mint one link per roster entry and email them, or export them as CSV",
        response_model=LinksEmailed,
        description=(
            "Each link carries a fresh 256-bit token; only a keyed hash of it is kept, with the "
            "round and unit. Which link went to which address is never stored or logged: it exists "
            "only in the emails sent, or in the CSV returned by this call (for a mail merge)."
        ),
        responses={
            200: {
                "description": "Email: how many were sent. CSV: the links, one row per person (email, link)",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            },
            404: problem_doc("No such round"),
            409: problem_doc("Links already issued for this round, or email is not configured"),
            410: problem_doc("The round has closed"),
            502: problem_doc("The mail server failed; re-send with `emails`"),
        },
    )
    async def issue_links(pulse_id: PulseId, body: LinksIn, user: AdminUser) -> LinksEmailed | Response:
        with change(user, "links.issue", pulse_id) as entry:
            entry.update(delivery=body.delivery, resend_to=len(body.emails) if body.emails is not None else None)
            pulse = await _existing_round(pulse_id)
            try:
                issued = await issuer.issue(pulse, body.delivery, body.emails)
            except LinksRefused as exc:
                raise Problem(exc.status, exc.title, exc.detail, **exc.extra) from None
            except SmtpNotConfigured as exc:
                raise Problem(409, "Email is not configured", str(exc)) from None
            except (aiosmtplib.SMTPException, OSError) as exc:
                raise Problem(502, "The mail server failed", f"{type(exc).__name__}; re-send with `emails`") from None
            entry.update(minted=issued.minted, sent=issued.sent, failed=len(issued.failed))
        if body.delivery == "csv":
            return _csv(issued.invitations)
        return LinksEmailed(minted=issued.minted, sent=issued.sent, failed=issued.failed)

    async def _existing_round(pulse_id: str) -> store.Round:
        pulse = await store.get_round(database.pool, pulse_id)
        if pulse is None:
            raise not_found("pulse round", pulse_id)
        return pulse

    @router.put("/signposts", summary="The support shown after answering (EAP, union, speak-up guardian)")
    async def put_signposts(body: Signposts, user: AdminUser) -> Signposts:
        with change(user, "signposts.update", "signposts"):
            await store.save_signposts(database.pool, body.model_dump_json())
        return body

    @router.get("/signposts", summary="The support shown after answering")
    async def get_signposts(user: AdminUser) -> Signposts:
        document = await store.signposts_document(database.pool)
        return Signposts.model_validate_json(document) if document else DEFAULT_SIGNPOSTS

    return router


def _file_problem(exc: FileInvalid, title: str) -> Problem:
    return Problem(
        422,
        f"{title}; nothing was imported",
        "; ".join(str(p) for p in exc.problems),
        errors=[{"line": p.line, "column": p.column, "reason": p.reason} for p in exc.problems],
    )


def _csv(invitations: list[Invitation]) -> Response:
    return csv_response(["email", "link"], [(i.email, i.link) for i in invitations], "links.csv")


async def _text(request: Request) -> str:
    try:
        return (await request.body()).decode("utf-8-sig")
    except UnicodeDecodeError:
        raise Problem(
            422, "The file is not UTF-8", "Save the export as UTF-8 and try again; nothing was imported."
        ) from None


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip()


def _unavailable(settings: IntakeSettings) -> Problem:
    return Problem(
        503,
        "Service Unavailable",
        "Could not record this right now and nothing was saved; please try again shortly.",
        headers={"Retry-After": str(settings.retry_after_seconds)},
    )
