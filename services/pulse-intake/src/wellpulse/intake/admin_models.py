"""What the admin API takes and answers: request and response models, and the upload schemas."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from wellpulse.common.bank import QuestionBank
from wellpulse.common.events import IsoWeek, Text
from wellpulse.intake import store


def _upload(list_key: str, row: dict[str, Any], csv_header: str) -> dict[str, Any]:
    rows = {"type": "array", "minItems": 1, "items": row}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string", "description": f"A header line `{csv_header}`, then rows"}},
                "application/json": {
                    "schema": {
                        "oneOf": [
                            rows,
                            {
                                "type": "object",
                                "required": [list_key],
                                "properties": {list_key: rows},
                                "additionalProperties": False,
                            },
                        ]
                    }
                },
            },
        }
    }


ORG_UPLOAD = _upload(
    "units",
    {
        "type": "object",
        "required": ["unit_id", "name", "headcount"],
        "properties": {
            "unit_id": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$", "maxLength": 64},
            # Empty or null: the root.
            "parent_id": {"type": ["string", "null"], "pattern": "^([A-Za-z0-9][A-Za-z0-9._-]*)?$", "maxLength": 64},
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "headcount": {"type": "integer", "minimum": 0, "maximum": 10_000_000},
        },
    },
    "unit_id,parent_id,name,headcount",
)
ROSTER_UPLOAD = _upload(
    "roster",
    {
        "type": "object",
        "required": ["email", "unit_id"],
        "properties": {"email": {"type": "string", "format": "email"}, "unit_id": {"type": "string"}},
    },
    "email,unit_id",
)


class RoundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    iso_week: IsoWeek | None = Field(default=None, description="Default: the current ISO week")


class RoundItem(BaseModel):
    code: str
    response: str
    text: dict[str, str]


class RoundOut(BaseModel):
    pulse_id: str
    iso_week: str
    status: str
    bank_version: str
    links_issued: int
    items: list[RoundItem]


class LinksIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    delivery: Literal["email", "csv"]
    emails: list[Annotated[Text, Field(max_length=320)]] | None = Field(
        default=None,
        max_length=100_000,
        description="Only these roster addresses (to re-send to people whose link did not arrive)",
    )


class LinksEmailed(BaseModel):
    minted: int
    sent: int
    failed: list[str] = Field(description="Addresses the mail server refused; re-send with `emails`")


class OrgImported(BaseModel):
    units: int
    created_or_updated: int
    removed: int
    unchanged: int


class RosterImported(BaseModel):
    people: int
    added_or_moved: int
    removed: int
    unchanged: int


def round_out(pulse: store.Round, bank: QuestionBank) -> RoundOut:
    return RoundOut(
        pulse_id=pulse.pulse_id,
        iso_week=pulse.iso_week,
        status=pulse.status,
        bank_version=pulse.bank_version,
        links_issued=pulse.links_issued,
        items=[
            RoundItem(code=code, response=bank.item(code).response, text=bank.item(code).text) for code in pulse.items
        ],
    )
