"""Unit tests for the shared event contract: envelope, decoding, derived ids and ISO-week helpers."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from wellpulse.common.events import (
    AlertFamilies,
    AlertRaised,
    AlertStatusChanged,
    ContractViolation,
    Envelope,
    IsoWeek,
    OrgUnit,
    PulseResponseSubmitted,
    decode,
    decode_any,
    derived_id,
    encode,
    iso_week_of,
    monday_of,
    schema_uri,
    start_of_day,
)

SECRET = "SECRET-ANSWER"
ISO_WEEK = TypeAdapter(IsoWeek)


def submitted(**changes: Any) -> PulseResponseSubmitted:
    fields: dict[str, Any] = {
        "pulse_id": "p-2026-W10-abcd1234",
        "unit_id": "team-a",
        "iso_week": "2026-W10",
        "bank_version": "2026.1",
        "answers": {"DEM-01": 2, "BHD-4W": "no", "CASE-COUNT": 18},
    }
    fields.update(changes)
    return PulseResponseSubmitted(**fields)


def envelope(**changes: Any) -> Envelope[PulseResponseSubmitted]:
    return Envelope.wrap(
        submitted(**changes),
        source="/wellpulse/pulse-intake",
        subject="team-a",
        at=start_of_day(date(2026, 3, 4)),
    )


def as_json(env: Envelope[Any]) -> dict[str, Any]:
    document = json.loads(encode(env))
    assert isinstance(document, dict)
    return document


def to_bytes(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


# --- envelope round trip ----------------------------------------------------------------------


def test_encoded_envelope_decodes_to_the_same_event() -> None:
    original = envelope()

    decoded = decode(encode(original), PulseResponseSubmitted)

    assert decoded == original
    assert decoded.data.answers == {"DEM-01": 2, "BHD-4W": "no", "CASE-COUNT": 18}
    assert decoded.time == datetime(2026, 3, 4, tzinfo=UTC)


def test_wrap_fills_the_cloudevents_attributes_from_the_payload() -> None:
    env = envelope()

    document = as_json(env)

    assert document["specversion"] == "1.0"
    assert document["type"] == PulseResponseSubmitted.TYPE
    assert document["dataschema"] == "urn:wellpulse:schema:org.wellpulse.pulse.response.submitted:1"
    assert document["datacontenttype"] == "application/json"
    assert document["subject"] == "team-a"
    assert uuid.UUID(document["id"]) == env.id


def test_wrap_gives_each_event_its_own_id_unless_one_is_given() -> None:
    fixed = uuid.UUID("00000000-0000-4000-8000-000000000001")

    assert envelope().id != envelope().id
    assert Envelope.wrap(submitted(), source="/x", subject="team-a", event_id=fixed).id == fixed


def test_envelope_refuses_a_time_without_timezone() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        Envelope.wrap(submitted(), source="/x", subject="team-a", at=datetime(2026, 3, 4))


# --- decode rejects what breaks the contract --------------------------------------------------


def test_decode_rejects_another_event_type() -> None:
    document = as_json(envelope())
    document["type"] = OrgUnit.TYPE

    with pytest.raises(ContractViolation, match="type") as caught:
        decode(to_bytes(document), PulseResponseSubmitted)

    assert PulseResponseSubmitted.TYPE in str(caught.value)


def test_decode_rejects_another_schema_version() -> None:
    document = as_json(envelope())
    document["dataschema"] = "urn:wellpulse:schema:org.wellpulse.pulse.response.submitted:2"

    with pytest.raises(ContractViolation, match="dataschema") as caught:
        decode(to_bytes(document), PulseResponseSubmitted)

    assert schema_uri(PulseResponseSubmitted) in str(caught.value)


def test_decode_rejects_an_envelope_of_another_payload() -> None:
    unit = Envelope.wrap(
        OrgUnit(unit_id="team-a", parent_id=None, name="Team A", headcount=8), source="/x", subject="team-a"
    )

    with pytest.raises(ContractViolation):
        decode(encode(unit), PulseResponseSubmitted)


@pytest.mark.parametrize("raw", [b"", b"{not json", b"\xff\xfe\x00", b"[]", b"null", b'"text"'])
def test_decode_rejects_bytes_that_are_not_an_envelope(raw: bytes) -> None:
    with pytest.raises(ContractViolation):
        decode(raw, PulseResponseSubmitted)


@pytest.mark.parametrize("missing", ["id", "source", "type", "time", "dataschema", "subject", "data"])
def test_decode_names_a_missing_envelope_field(missing: str) -> None:
    document = as_json(envelope())
    del document[missing]

    with pytest.raises(ContractViolation, match=rf"^{missing}: Field required"):
        decode(to_bytes(document), PulseResponseSubmitted)


@pytest.mark.parametrize("missing", ["pulse_id", "unit_id", "iso_week", "bank_version", "answers"])
def test_decode_names_a_missing_payload_field(missing: str) -> None:
    document = as_json(envelope())
    del document["data"][missing]

    with pytest.raises(ContractViolation, match=rf"data\.{missing}: Field required"):
        decode(to_bytes(document), PulseResponseSubmitted)


def test_decode_rejects_unknown_fields() -> None:
    document = as_json(envelope())
    document["data"]["person_email"] = "someone@example.org"

    with pytest.raises(ContractViolation, match=r"data\.person_email"):
        decode(to_bytes(document), PulseResponseSubmitted)


def test_decode_lists_every_problem_but_caps_the_list() -> None:
    document = as_json(envelope())
    for name in ("id", "source", "type", "time", "dataschema", "subject", "data"):
        del document[name]

    with pytest.raises(ContractViolation) as caught:
        decode(to_bytes(document), PulseResponseSubmitted)

    assert str(caught.value).endswith("(+1 more)")
    assert str(caught.value).count("Field required") == 6


# --- reasons travel in DLQ headers and logs: they never carry the offending value -------------


def _with(document: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    target = document
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return document


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("data", "answers", "DEM-01"), [SECRET]),
        (("data", "answers", "DEM-01"), {"text": SECRET}),
        (("data", "answers"), SECRET),
        (("data", "iso_week"), SECRET),
        (("data", "unit_id"), f"{SECRET} !"),
        (("data", "pulse_id"), [SECRET]),
        (("data", "pulse_id"), SECRET * 10),
        (("data",), SECRET),
        (("id",), SECRET),
        (("time",), SECRET),
        (("specversion",), SECRET),
        (("datacontenttype",), SECRET),
        (("source",), [SECRET]),
    ],
)
def test_contract_violation_never_quotes_the_offending_value(path: tuple[str, ...], value: Any) -> None:
    document = _with(as_json(envelope()), path, value)

    with pytest.raises(ContractViolation) as caught:
        decode(to_bytes(document), PulseResponseSubmitted)

    reason = str(caught.value)
    assert SECRET not in reason
    assert ".".join(path) in reason  # it still says where the problem is


def test_broken_json_reason_never_quotes_the_record() -> None:
    raw = to_bytes(as_json(envelope(answers={"DEM-01": SECRET})))[:-3]

    with pytest.raises(ContractViolation) as caught:
        decode(raw, PulseResponseSubmitted)

    assert SECRET not in str(caught.value)


# --- derived ids ------------------------------------------------------------------------------


def test_derived_id_is_the_same_for_the_same_parts() -> None:
    response_id = "6a0b6f0e-7d63-4bb5-8d5e-0f4c1d2e3a4b"

    assert derived_id("scored", response_id, "2026.1") == derived_id("scored", response_id, "2026.1")
    assert derived_id("scored", response_id, "2026.1").version == 5


# Unit ids, rule names, uuids and versions never contain ":", the separator derived ids join on.
# Callers always pass at least one part.
_part = st.text(alphabet=st.characters(codec="utf-8", exclude_characters=":"), max_size=12)
_parts = st.lists(_part, min_size=1, max_size=4)


@given(_parts, _parts)
def test_derived_id_differs_for_different_parts(first: list[str], second: list[str]) -> None:
    if first == second:
        assert derived_id(*first) == derived_id(*second)
    else:
        assert derived_id(*first) != derived_id(*second)


def test_derived_id_depends_on_part_order() -> None:
    assert derived_id("alert", "team-a") != derived_id("team-a", "alert")


# --- ISO weeks --------------------------------------------------------------------------------

_days = st.dates(min_value=date(1900, 1, 1), max_value=date(9998, 12, 1))


@given(_days)
@example(date(2020, 12, 31))  # Thursday of 2020-W53
@example(date(2021, 1, 3))  # Sunday, still 2020-W53
@example(date(2024, 12, 30))  # Monday of 2025-W01, in December
@example(date(2026, 12, 28))  # Monday of 2026-W53
@example(date(2027, 1, 3))  # Sunday of 2026-W53, in January
@example(date(2027, 1, 4))  # Monday of 2027-W01
def test_monday_of_the_week_of_a_day_is_that_weeks_monday(day: date) -> None:
    week = iso_week_of(day)
    monday = monday_of(week)

    assert monday.isoweekday() == 1
    assert monday <= day < monday + timedelta(days=7)
    assert iso_week_of(monday) == week
    ISO_WEEK.validate_python(week)


@pytest.mark.parametrize(
    ("day", "week"),
    [
        (date(2020, 12, 31), "2020-W53"),
        (date(2021, 1, 3), "2020-W53"),
        (date(2021, 1, 4), "2021-W01"),
        (date(2024, 12, 30), "2025-W01"),
        (date(2026, 12, 27), "2026-W52"),
        (date(2027, 1, 1), "2026-W53"),
        (date(2026, 1, 5), "2026-W02"),
    ],
)
def test_iso_week_of_follows_iso_8601_at_year_boundaries(day: date, week: str) -> None:
    assert iso_week_of(day) == week


@given(st.integers(min_value=1900, max_value=9998), st.integers(min_value=1, max_value=53))
def test_a_real_week_round_trips_through_its_monday(year: int, week: int) -> None:
    weeks_in_year = date(year, 12, 28).isocalendar()[1]
    name = f"{year}-W{week:02d}"
    if week > weeks_in_year:
        with pytest.raises(ValueError, match="week"):
            monday_of(name)
    else:
        assert iso_week_of(monday_of(name)) == name


@given(st.from_regex(r"\A\d{4}-W(0[1-9]|[1-4]\d|5[0-3])\Z"))
@example("2025-W53")  # 2025 has 52 ISO weeks
@example("0000-W01")  # there is no year 0
@example("2026-W53")
def test_every_week_the_contract_accepts_has_a_monday(week: str) -> None:
    """Consumers call ``monday_of`` on every accepted ``iso_week``; an accepted week that does not
    exist would crash them (and their whole batch) instead of being dead-lettered."""
    try:
        ISO_WEEK.validate_python(week)
    except ValidationError:
        return
    assert monday_of(week).isoweekday() == 1


@pytest.mark.parametrize("week", ["2026-W54", "2026-W00", "2026-W5", "2026W10", "26-W10", "2026-w10", ""])
def test_iso_week_pattern_rejects_impossible_weeks(week: str) -> None:
    with pytest.raises(ValidationError):
        ISO_WEEK.validate_python(week)
    with pytest.raises(ValidationError):
        submitted(iso_week=week)


@pytest.mark.parametrize(
    "week",
    ["\u0662\u0660\u0662\u0666-W10", "2026-W1\u0660", "\uff12\uff10\uff12\uff16-W10"],
    ids=["arabic-indic-year", "arabic-indic-week", "fullwidth-year"],
)
def test_iso_week_is_spelled_with_ascii_digits_only(week: str) -> None:
    """Rounds, rollups and alert windows are keyed by the week's text: one week, one spelling."""
    with pytest.raises(ValidationError):
        ISO_WEEK.validate_python(week)


@pytest.mark.parametrize("week", ["2026-W01", "2026-W09", "2026-W10", "2026-W48", "2026-W53"])
def test_iso_week_pattern_accepts_real_weeks(week: str) -> None:
    assert ISO_WEEK.validate_python(week) == week


@given(_days)
def test_start_of_day_is_midnight_utc_on_that_day(day: date) -> None:
    moment = start_of_day(day)

    assert moment.date() == day
    assert moment.time() == time(0, 0)
    assert moment.tzinfo is UTC
    assert moment.utcoffset() == timedelta(0)


# --- alert families ---------------------------------------------------------------------------


def test_alert_families_refuse_the_first_versions_two_leaving_fields() -> None:
    """Version 2 carries one intent-to-leave value, read from the bank's tags."""
    with pytest.raises(ValidationError):
        AlertFamilies.model_validate({"intends_to_leave_job": True})


@pytest.mark.parametrize("value", [0, 0.99, 5.01, 6])
def test_caseload_manageable_is_a_one_to_five_score(value: float) -> None:
    with pytest.raises(ValidationError):
        AlertFamilies(caseload_manageable=value)


def _status_change() -> Envelope[AlertStatusChanged]:
    change = AlertStatusChanged(
        alert_id=uuid.uuid4(), rule="bullying", family="bullying", unit_id="team", status="resolved", seq=3
    )
    return Envelope.wrap(change, source="/t", subject="team")


def test_a_topic_of_several_event_types_decodes_each_record_by_its_type() -> None:
    sent = _status_change()
    got = decode_any(encode(sent), [AlertRaised, AlertStatusChanged])
    assert got == sent
    assert isinstance(got.data, AlertStatusChanged)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"type": "org.wellpulse.something-else"}', "is not one of org.wellpulse.alert.raised"),
        (b'{"no": "type"}', "type: Field required"),
        (b"not json", "Invalid JSON"),
    ],
)
def test_a_record_of_no_known_type_is_refused_saying_why(raw: bytes, reason: str) -> None:
    with pytest.raises(ContractViolation, match=reason):
        decode_any(raw, [AlertRaised, AlertStatusChanged])


def test_a_known_type_that_breaks_its_schema_is_refused_by_that_schema() -> None:
    broken = encode(_status_change()).replace(b'"seq":3', b'"seq":0')
    with pytest.raises(ContractViolation, match="seq"):
        decode_any(broken, [AlertRaised, AlertStatusChanged])
