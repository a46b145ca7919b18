"""Event contracts shared by every service: a CloudEvents 1.0 envelope around versioned payloads.

Producers and consumers agree on these models only; services never import each other.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, ClassVar, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator


def _real_iso_week(value: str) -> str:
    monday_of(value)  # raises ValueError for a week the year does not have (e.g. 2025-W53)
    return value


# ASCII digits only: "٢٠٢٦-W10" would name the same week as "2026-W10" under another spelling.
IsoWeek = Annotated[
    str,
    Field(pattern=r"^[0-9]{4}-W(0[1-9]|[1-4][0-9]|5[0-3])$", examples=["2026-W48"]),
    AfterValidator(_real_iso_week),
]
UnitId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
# Control characters other than tab and line breaks are never text a person wrote, and PostgreSQL
# cannot store NUL at all.
CONTROL_CHARACTERS = frozenset(chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F))


def _no_control_characters(value: str) -> str:
    if not CONTROL_CHARACTERS.isdisjoint(value):
        raise ValueError("contains a control character (such as NUL): remove it")
    return value


# Text a person reads: names, descriptions, contact details.
Text = Annotated[str, AfterValidator(_no_control_characters)]

# Derived event ids are UUIDv5 in this namespace, so reprocessing an input yields the same output id
# and every consumer's idempotent write absorbs the duplicate.
WELLPULSE_NAMESPACE = uuid.UUID("6f1d3c52-5b7e-4a8e-9d1b-2f6c1e0a9b47")


def derived_id(*parts: str) -> uuid.UUID:
    return uuid.uuid5(WELLPULSE_NAMESPACE, ":".join(parts))


def iso_week_of(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def monday_of(iso_week: str) -> date:
    year, week = iso_week.split("-W")
    try:
        return date.fromisocalendar(int(year), int(week), 1)
    except ValueError as exc:
        raise ValueError(f"{iso_week} is not a week of the ISO calendar") from exc


def start_of_day(day: date) -> datetime:
    """Responses carry no time finer than the day: this is the only time a response event has."""
    return datetime.combine(day, time.min, tzinfo=UTC)


class Payload(BaseModel):
    """A versioned event payload. ``TYPE`` and ``VERSION`` name it on the wire."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    TYPE: ClassVar[str]
    VERSION: ClassVar[int]


P = TypeVar("P", bound=Payload)


class Envelope(BaseModel, Generic[P]):
    """CloudEvents 1.0 attributes (structured mode, JSON) around one payload."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    specversion: Literal["1.0"] = "1.0"
    id: uuid.UUID
    source: str = Field(min_length=1)
    type: str
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str
    subject: str
    data: P

    @classmethod
    def wrap(
        cls,
        data: P,
        *,
        source: str,
        subject: str,
        event_id: uuid.UUID | None = None,
        at: datetime | None = None,
    ) -> Envelope[P]:
        return cls(
            id=event_id or uuid.uuid4(),
            source=source,
            type=data.TYPE,
            time=at or datetime.now(UTC),
            dataschema=schema_uri(type(data)),
            subject=subject,
            data=data,
        )

    @field_validator("time")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("time must carry a timezone (RFC 3339)")
        return value


def schema_uri(payload: type[Payload]) -> str:
    return f"urn:wellpulse:schema:{payload.TYPE}:{payload.VERSION}"


class OrgUnit(Payload):
    """The current state of one unit in the org tree (``org.units``, compacted, keyed by unit id)."""

    TYPE: ClassVar[str] = "org.wellpulse.org.unit"
    VERSION: ClassVar[int] = 1

    unit_id: UnitId
    parent_id: UnitId | None
    name: Annotated[Text, Field(min_length=1, max_length=200)]
    # The people a unit's response rates count; the largest employers have about 1.5 million.
    headcount: int = Field(ge=0, le=10_000_000)


Answer = int | str
BullyingAnswer = Literal["yes", "no", "prefer_not_to_say"]


class PulseResponseSubmitted(Payload):
    """One anonymous response: no person, no time finer than the day, no network detail."""

    TYPE: ClassVar[str] = "org.wellpulse.pulse.response.submitted"
    VERSION: ClassVar[int] = 1

    pulse_id: str = Field(min_length=1, max_length=64)
    unit_id: UnitId
    iso_week: IsoWeek
    bank_version: str
    answers: dict[str, Answer]


class AlertFamilies(BaseModel):
    """The values the alert rules read, taken from the items asked every week (the bank's
    ``family`` tags say which). None: not answered."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cases_held: int | None = Field(default=None, ge=0)
    # The mean 1–5 score of the caseload agreement items: 1–2 means it is not manageable.
    caseload_manageable: float | None = Field(default=None, ge=1, le=5)
    bullying: BullyingAnswer | None = None
    intends_to_leave: bool | None = None


class ResponseScored(Payload):
    """A response turned into HSE scale means (1–5, higher is better) and alert-family values."""

    TYPE: ClassVar[str] = "org.wellpulse.pulse.response.scored"
    # 2: families come from the bank's tags (one intent-to-leave value, a 1–5 manageability score).
    VERSION: ClassVar[int] = 2

    response_id: uuid.UUID
    pulse_id: str
    unit_id: UnitId
    iso_week: IsoWeek
    scoring_version: str
    scales: dict[str, float]
    items: dict[str, float]
    families: AlertFamilies


class AlertFinding(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    clause: str
    value: float
    threshold: float
    text: str


class AlertRaised(Payload):
    """A unit crossed a threshold. Names the smallest unit whose every contributing week had at
    least k respondents (k counted in people, never in responses summed over weeks)."""

    TYPE: ClassVar[str] = "org.wellpulse.alert.raised"
    # 2: every family; findings say what crossed which threshold; people, not responses.
    VERSION: ClassVar[int] = 2

    alert_id: uuid.UUID
    rule: str
    family: str
    unit_id: UnitId
    title: str
    window_start_week: IsoWeek
    window_end_week: IsoWeek
    people: int = Field(ge=1)
    findings: list[AlertFinding] = Field(min_length=1)
    first_step: str
    changes: list[str]
    follows: uuid.UUID | None = None


class AlertStatusChanged(Payload):
    """HR acknowledged or resolved an alert. Published after the alert's ``AlertRaised``, on the same
    key (its unit), so a consumer sees an alert raised before it sees it handled. ``seq`` orders an
    alert's changes: a consumer keeps the highest it has seen, whatever is delivered twice."""

    TYPE: ClassVar[str] = "org.wellpulse.alert.status-changed"
    VERSION: ClassVar[int] = 1

    alert_id: uuid.UUID
    rule: str
    family: str
    unit_id: UnitId
    status: Literal["acknowledged", "resolved"]
    seq: int = Field(ge=1)


@functools.cache
def envelope_of(payload: type[P]) -> type[Envelope[P]]:
    """``Envelope[payload]``, made once: pydantic looks a parametrisation up on every subscript,
    which cost a fifth of decoding a record."""
    return Envelope[payload]  # type: ignore[valid-type]


def decode(raw: bytes, payload: type[P]) -> Envelope[P]:
    """Decode and check one record value; raises ``ContractViolation`` with a reason for the DLQ."""
    try:
        envelope = envelope_of(payload).model_validate_json(raw)
    except ValidationError as exc:
        raise ContractViolation(describe(exc)) from exc
    if envelope.type != payload.TYPE:
        raise ContractViolation(f"type {envelope.type!r} is not {payload.TYPE!r}")
    if envelope.dataschema != schema_uri(payload):
        raise ContractViolation(f"dataschema {envelope.dataschema!r} is not {schema_uri(payload)!r}")
    return envelope


class _Kind(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str


def decode_any(raw: bytes, payloads: Sequence[type[Payload]]) -> Envelope[Any]:
    """Decode a record of a topic that carries several event types, by its ``type``."""
    try:
        kind = _Kind.model_validate_json(raw).type
    except ValidationError as exc:
        raise ContractViolation(describe(exc)) from exc
    for payload in payloads:
        if kind == payload.TYPE:
            return decode(raw, payload)
    raise ContractViolation(f"type {kind!r} is not one of {', '.join(sorted(p.TYPE for p in payloads))}")


def encode(envelope: Envelope[Any]) -> bytes:
    return envelope.model_dump_json().encode()


class ContractViolation(ValueError):
    """A record that cannot be decoded or breaks its schema. The message never quotes answers."""


def describe(exc: ValidationError, limit: int = 6) -> str:
    """Where and why, never what: a reason travels in DLQ headers and logs and must not carry an answer."""
    problems = [
        f"{'.'.join(str(part) for part in error['loc']) or '(record)'}: {error['msg']}"
        for error in exc.errors(include_input=False, include_url=False)
    ]
    more = f" (+{len(problems) - limit} more)" if len(problems) > limit else ""
    return "; ".join(problems[:limit]) + more
