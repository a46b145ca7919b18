"""Org admins' routes: the org tree, the roster, rounds and their links, support signposts.

Not yet authenticated (DESIGN.md: OIDC bearer tokens, role admin): keep this port private.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Annotated, Any, Literal

import aiosmtplib
from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import Response
from faststream.kafka.publisher.usecase import DefaultPublisher
from pydantic import BaseModel, ConfigDict, Field

from wellpulse.common.bank import QuestionBank
from wellpulse.common.events import Envelope, IsoWeek, iso_week_of
from wellpulse.common.http import problem
from wellpulse.common.service import Database
from wellpulse.intake import store
from wellpulse.intake.files import FileInvalid
from wellpulse.intake.links import LinkIssuer
from wellpulse.intake.mail import Invitation, SmtpNotConfigured
from wellpulse.intake.org import parse_org
from wellpulse.intake.publishing import BrokerUnavailable, publish_or_fail
from wellpulse.intake.roster import parse_roster
from wellpulse.intake.rounds import open_round_for_week
from wellpulse.intake.settings import IntakeSettings
from wellpulse.intake.signposts import DEFAULT_SIGNPOSTS, Signposts

SOURCE = "/wellpulse/pulse-intake"
PulseId = Annotated[str, Path(max_length=64)]
UPLOAD = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}


class RoundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    iso_week: IsoWeek | None = Field(default=None, description="Default: the current ISO week")


class RoundOut(BaseModel):
    pulse_id: str
    iso_week: str
    status: str
    bank_version: str
    links_issued: int
    items: list[dict[str, Any]]


class LinksIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    delivery: Literal["email", "csv"]
    emails: list[str] | None = Field(
        default=None,
        description="Only these roster addresses (to re-send to people whose link did not arrive)",
    )


def admin_router(
    settings: IntakeSettings,
    database: Database,
    bank: QuestionBank,
    org_out: DefaultPublisher,
    issuer: LinkIssuer,
) -> APIRouter:
    router = APIRouter(prefix="/v1/admin", tags=["admin"])

    @router.put(
        "/org-units",
        summary="Import the whole org tree (CSV or JSON); all or nothing",
        description=(
            "Columns/fields: unit_id, parent_id (empty for the root), name, headcount. Every "
            "problem is reported with its line; nothing is imported unless the whole file is good. "
            "Changes are published to org.units (a removed unit as a tombstone); re-importing the "
            "same file changes nothing."
        ),
        openapi_extra=UPLOAD,
    )
    async def import_org(request: Request) -> Any:
        try:
            units = parse_org(await _text(request), _media_type(request))
        except FileInvalid as exc:
            return _file_problem(exc, "The org file has problems; nothing was imported")
        async with database.pool.acquire() as conn:
            transaction = conn.transaction()
            await transaction.start()
            try:
                changes = await store.replace_org_tree(conn, units)
                events: list[tuple[str, Envelope[Any] | None]] = [
                    (u.unit_id, Envelope.wrap(u, source=SOURCE, subject=u.unit_id)) for u in changes.upserted
                ]
                events += [(unit_id, None) for unit_id in changes.removed]
                # Published before the commit: if the broker fails, nothing is stored and the
                # import can simply be repeated.
                await publish_or_fail(org_out, events, settings.kafka_publish_timeout_seconds)
            except BaseException as exc:
                await transaction.rollback()
                if isinstance(exc, BrokerUnavailable):
                    return _unavailable(settings)
                if isinstance(exc, store.UnitsStillStaffed):
                    return problem(
                        409,
                        "Units still have people on the roster; nothing was imported",
                        "Import a roster that moves these people first: "
                        + ", ".join(f"{unit} ({n})" for unit, n in exc.people.items()),
                        units=exc.people,
                    )
                raise
            await transaction.commit()
        return {
            "units": len(units),
            "created_or_updated": len(changes.upserted),
            "removed": len(changes.removed),
            "unchanged": changes.unchanged,
        }

    @router.put(
        "/roster",
        summary="Import the whole roster (CSV or JSON: email, unit_id); all or nothing",
        description=(
            "Used only to send each person this week's link. Never published, never linked to a "
            "link or a response. Every bad row is reported with its line; nothing is imported "
            "unless the whole file is good."
        ),
        openapi_extra=UPLOAD,
    )
    async def import_roster(request: Request) -> Any:
        text, media_type = await _text(request), _media_type(request)
        known = await store.known_unit_ids(database.pool)
        try:
            entries = parse_roster(text, media_type, known)
        except FileInvalid as exc:
            return _file_problem(exc, "The roster has problems; nothing was imported")
        async with database.pool.acquire() as conn, conn.transaction():
            changes = await store.replace_roster(conn, entries)
        return {
            "people": len(entries),
            "added_or_moved": changes.added_or_moved,
            "removed": changes.removed,
            "unchanged": changes.unchanged,
        }

    @router.post("/rounds", status_code=201, summary="Open the pulse round for an ISO week")
    async def open_round(body: RoundIn) -> RoundOut:
        iso_week = body.iso_week or iso_week_of(date.today())
        pulse = await open_round_for_week(database.pool, bank, iso_week, settings.max_items_per_pulse)
        return _round_out(pulse, bank)

    @router.get("/rounds/{pulse_id}", summary="A round, its items and how many links were issued")
    async def get_round(pulse_id: PulseId) -> RoundOut:
        return _round_out(await _existing_round(pulse_id), bank)

    @router.post("/rounds/{pulse_id}/close", summary="Close a round: its links stop working", response_model=RoundOut)
    async def close_round(pulse_id: PulseId) -> RoundOut:
        pulse = await store.close_round(database.pool, pulse_id)
        if pulse is None:
            raise HTTPException(404, f"no pulse round {pulse_id!r}")
        return _round_out(pulse, bank)

    @router.post(
        "/rounds/{pulse_id}/links",
        summary="Mint one link per roster entry and email them, or export them as CSV",
        description=(
            "Each link carries a fresh 256-bit token; only a keyed hash of it is kept, with the "
            "round and unit. Which link went to which address is never stored or logged: it exists "
            "only in the emails sent, or in the CSV returned by this call (for a mail merge)."
        ),
        responses={
            409: {"description": "Links already issued for this round"},
            502: {"description": "Mail server"},
        },
    )
    async def issue_links(pulse_id: PulseId, body: LinksIn) -> Any:
        pulse = await _existing_round(pulse_id)
        if pulse.status != "open":
            return problem(410, "Closed", f"pulse round {pulse_id!r} has closed")
        if pulse.links_issued and body.emails is None:
            return problem(
                409,
                "Links already issued",
                f"{pulse.links_issued} links were already issued for this round. To re-send to "
                "particular people, list their roster addresses in `emails`.",
            )
        entries = await store.roster(database.pool, body.emails)
        if body.emails is not None:
            unknown = sorted(set(body.emails) - {e.email for e in entries})
            if unknown:
                return problem(
                    422,
                    "Not on the roster",
                    f"{len(unknown)} address(es) are not on the roster",
                    unknown=unknown,
                )
        if not entries:
            return problem(422, "Empty roster", "Import a roster first (PUT /v1/admin/roster).")
        if body.delivery == "csv":
            return _csv(await issuer.mint(pulse_id, entries))
        try:
            minted, report = await issuer.email(pulse, entries)
        except SmtpNotConfigured as exc:
            return problem(409, "Email is not configured", str(exc))
        except (aiosmtplib.SMTPException, OSError) as exc:
            return problem(502, "The mail server failed", f"{type(exc).__name__}; re-send with `emails`")
        return {"minted": minted, "sent": report.sent, "failed": report.failed}

    async def _existing_round(pulse_id: str) -> store.Round:
        pulse = await store.get_round(database.pool, pulse_id)
        if pulse is None:
            raise HTTPException(404, f"no pulse round {pulse_id!r}")
        return pulse

    @router.put("/signposts", summary="The support shown after answering (EAP, union, speak-up guardian)")
    async def put_signposts(body: Signposts) -> Signposts:
        await store.save_signposts(database.pool, body.model_dump_json())
        return body

    @router.get("/signposts", summary="The support shown after answering")
    async def get_signposts() -> Signposts:
        document = await store.signposts_document(database.pool)
        return Signposts.model_validate_json(document) if document else DEFAULT_SIGNPOSTS

    return router


def _csv(invitations: list[Invitation]) -> Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["email", "link"])
    writer.writerows((i.email, i.link) for i in invitations)
    return Response(
        out.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="links.csv"', "Cache-Control": "no-store"},
    )


async def _text(request: Request) -> str:
    try:
        return (await request.body()).decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise HTTPException(422, "The file is not UTF-8: save the export as UTF-8 and try again.") from exc


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip()


def _file_problem(exc: FileInvalid, title: str) -> Response:
    return problem(
        422,
        title,
        "; ".join(str(p) for p in exc.problems),
        errors=[{"line": p.line, "column": p.column, "reason": p.reason} for p in exc.problems],
    )


def _unavailable(settings: IntakeSettings) -> Response:
    return problem(
        503,
        "Service Unavailable",
        "Could not record this right now and nothing was saved; please try again shortly.",
        headers={"Retry-After": str(settings.retry_after_seconds)},
    )


def _round_out(pulse: store.Round, bank: QuestionBank) -> RoundOut:
    return RoundOut(
        pulse_id=pulse.pulse_id,
        iso_week=pulse.iso_week,
        status=pulse.status,
        bank_version=pulse.bank_version,
        links_issued=pulse.links_issued,
        items=[
            {"code": code, "response": bank.item(code).response, "text": bank.item(code).text} for code in pulse.items
        ],
    )
