"""Admins' routes on the alerts service: the HR contacts alerts are delivered to (email and signed
webhooks), each with the units it covers. Organisation-wide, admin role, every change audited."""

from __future__ import annotations

from typing import Annotated, Self

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from wellpulse.alerts import deliveries_store
from wellpulse.alerts.delivery.targets import InvalidWebhookUrl, validate_webhook_url
from wellpulse.alerts.delivery.webhooks import InvalidWebhookSecret, check_secrets
from wellpulse.common.audit import AuditTrail
from wellpulse.common.auth import Principal, Role, require
from wellpulse.common.db import Database
from wellpulse.common.events import Text, UnitId
from wellpulse.common.http import Problem
from wellpulse.common.openapi import problem_doc

AdminUser = Annotated[Principal, require(Role.admin)]
EMAIL = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class WebhookIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: Annotated[Text, Field(max_length=2000, description="https outside development; never a private address")]
    secrets: list[Annotated[Text, Field(max_length=200)]] = Field(
        min_length=1,
        max_length=4,
        description="Standard Webhooks secrets (whsec_<base64>); list the new one beside the old while rotating",
    )


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contact_id: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    name: Annotated[Text, Field(min_length=1, max_length=200)]
    email: Annotated[Text, Field(max_length=320, pattern=EMAIL)] | None = None
    webhook: WebhookIn | None = None
    units: list[UnitId] = Field(min_length=1, max_length=50, description="Each unit covers its whole subtree")

    @model_validator(mode="after")
    def _a_channel(self) -> Self:
        if self.email is None and self.webhook is None:
            raise ValueError("give the contact an email, a webhook, or both")
        return self


class ContactsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    contacts: list[ContactIn] = Field(max_length=1000)

    @field_validator("contacts")
    @classmethod
    def _unique(cls, contacts: list[ContactIn]) -> list[ContactIn]:
        ids = [c.contact_id for c in contacts]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"contact_id used more than once: {', '.join(duplicates)}")
        return contacts


class ContactOut(BaseModel):
    contact_id: str
    name: str
    email: str | None
    webhook_url: str | None
    # Never the secrets themselves: how many, and the last four characters of each.
    webhook_secrets: list[str]
    units: list[str]


class ContactsSaved(BaseModel):
    contacts: int
    removed: int


def admin_router(database: Database, audit: AuditTrail, *, development: bool) -> APIRouter:
    router = APIRouter(prefix="/v1/admin", tags=["admin"])

    @router.put(
        "/contacts",
        summary="Replace the HR contacts alerts are delivered to",
        responses={422: problem_doc("A contact has problems; every one is named; nothing was saved")},
    )
    async def put_contacts(body: ContactsIn, user: AdminUser) -> ContactsSaved:
        with audit.change(user, Role.admin, "contacts.replace", "contacts") as entry:
            contacts, problems = [], []
            for position, contact in enumerate(body.contacts):
                try:
                    contacts.append(_checked(contact, development))
                except (InvalidWebhookUrl, InvalidWebhookSecret) as exc:
                    problems.append({"location": f"body.contacts.{position}.webhook", "message": str(exc)})
            if problems:
                raise Problem(
                    422,
                    "Contacts have problems; nothing was saved",
                    "; ".join(f"{p['location']}: {p['message']}" for p in problems),
                    errors=problems,
                )
            async with database.transaction() as conn:
                saved, removed = await deliveries_store.replace_contacts(conn, contacts)
            entry.update(contacts=saved, removed=removed)
        return ContactsSaved(contacts=saved, removed=removed)

    @router.get("/contacts", summary="The HR contacts alerts are delivered to (secrets masked)")
    async def get_contacts(user: AdminUser) -> list[ContactOut]:
        return [
            ContactOut(
                contact_id=c.contact_id,
                name=c.name,
                email=c.email,
                webhook_url=c.webhook_url,
                webhook_secrets=[f"whsec_…{s[-4:]}" for s in c.webhook_secrets],
                units=list(c.units),
            )
            for c in await deliveries_store.contacts(database.pool)
        ]

    return router


def _checked(contact: ContactIn, development: bool) -> deliveries_store.Contact:
    url: str | None = None
    secrets: tuple[str, ...] = ()
    if contact.webhook is not None:
        url = validate_webhook_url(contact.webhook.url, development=development)
        check_secrets(contact.webhook.secrets)
        secrets = tuple(contact.webhook.secrets)
    return deliveries_store.Contact(
        contact.contact_id, contact.name, contact.email, url, secrets, tuple(dict.fromkeys(contact.units))
    )
