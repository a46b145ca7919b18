"""Scoring's subscriber driven in memory with FastStream's ``TestKafkaBroker``: good responses are scored
onto ``pulse.scored``; records that cannot be used land on ``pulse.responses.dlq`` with the reason.
The same handler runs against a real broker in the e2e suite.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from faststream.kafka import KafkaBroker, KafkaMessage, KafkaResponse, TestKafkaBroker

from wellpulse.common.bank import load_bank
from wellpulse.common.events import (
    Envelope,
    PulseResponseSubmitted,
    ResponseScored,
    decode,
    derived_id,
    encode,
    start_of_day,
)
from wellpulse.common.kafka import DLQ_GROUP, DLQ_ORIGIN, DLQ_REASON, build_broker
from wellpulse.common.telemetry import Telemetry, setup_telemetry
from wellpulse.common.topics import PULSE_RESPONSES, PULSE_SCORED, dead_letter
from wellpulse.scoring.handlers import GROUP, register
from wellpulse.scoring.scales import SCORING_VERSION
from wellpulse.scoring.settings import ScoringSettings

RESPONSE_DAY = date(2026, 3, 4)


@dataclass
class Captured:
    body: bytes
    key: bytes
    headers: dict[str, str]
    timestamp_ms: int


@dataclass
class Wiring:
    broker: KafkaBroker
    telemetry: Telemetry
    scored: list[Captured] = field(default_factory=list)
    dead: list[Captured] = field(default_factory=list)

    def dead_letter_count(self) -> float:
        value = self.telemetry.registry.get_sample_value("wellpulse_dead_letters_total", {"topic": PULSE_RESPONSES})
        return value or 0.0


def capture(message: Any) -> Captured:
    record = message.raw_message
    return Captured(message.body, record.key, dict(message.headers), record.timestamp)


@pytest.fixture
def wiring() -> Wiring:
    settings = ScoringSettings(environment="development")
    telemetry = setup_telemetry("scoring", settings)
    broker = build_broker(settings, telemetry, "scoring")
    register(broker, settings, telemetry, load_bank())
    wired = Wiring(broker, telemetry)

    @broker.subscriber(PULSE_SCORED)
    async def scored_out(message: KafkaMessage) -> None:
        wired.scored.append(capture(message))

    @broker.subscriber(dead_letter(PULSE_RESPONSES))
    async def dead_out(message: KafkaMessage) -> None:
        wired.dead.append(capture(message))

    return wired


def response_event(
    answers: dict[str, Any], unit_id: str = "team-a", bank_version: str = load_bank().version
) -> Envelope[PulseResponseSubmitted]:
    return Envelope.wrap(
        PulseResponseSubmitted(
            pulse_id="p-2026-W10-abcd1234",
            unit_id=unit_id,
            iso_week="2026-W10",
            bank_version=bank_version,
            answers=answers,
        ),
        source="/wellpulse/pulse-intake",
        subject=unit_id,
        at=start_of_day(RESPONSE_DAY),
    )


def scored_id(response: Envelope[PulseResponseSubmitted]) -> uuid.UUID:
    return derived_id("scored", str(response.id), SCORING_VERSION)


async def test_a_response_is_scored_onto_pulse_scored(wiring: Wiring) -> None:
    response = response_event({"DEM-01": 5, "CON-01": 4, "LEAVE-JOB": 4, "BHD-4W": "no"})

    async with TestKafkaBroker(wiring.broker) as br:
        await br.publish(encode(response), PULSE_RESPONSES, key=b"team-a")

    assert wiring.dead == []
    assert len(wiring.scored) == 1
    out = wiring.scored[0]
    event = decode(out.body, ResponseScored)
    assert event.id == scored_id(response)
    assert event.data.response_id == response.id
    assert event.data.scales == {"demands": 1.0, "control": 4.0}
    assert event.data.families.intends_to_leave is True
    assert out.key == b"team-a"
    assert out.headers["content-type"].startswith("application/cloudevents+json")
    # The Kafka record is no more precise about time than the response: the start of its day.
    assert out.timestamp_ms == int(start_of_day(RESPONSE_DAY).timestamp() * 1000)
    assert wiring.dead_letter_count() == 0


async def test_redelivered_response_is_scored_under_the_same_id(wiring: Wiring) -> None:
    response = response_event({"CON-01": 2})

    async with TestKafkaBroker(wiring.broker) as br:
        await br.publish(encode(response), PULSE_RESPONSES, key=b"team-a")
        await br.publish(encode(response), PULSE_RESPONSES, key=b"team-a")

    ids = [decode(c.body, ResponseScored).id for c in wiring.scored]
    assert ids == [scored_id(response), scored_id(response)]


async def test_unusable_records_are_dead_lettered_and_the_good_one_still_scores(wiring: Wiring) -> None:
    good = response_event({"CON-01": 3, "PEER-01": 5}, unit_id="team-b")
    unknown_item = response_event({"CON-01": 3, "NOPE-01": 2}, unit_id="team-c")
    garbage = b"\x00\x01 not an envelope"

    async with TestKafkaBroker(wiring.broker) as br:
        await br.publish_batch(
            KafkaResponse(garbage, key=b"team-x"),
            KafkaResponse(encode(good), key=b"team-b"),
            KafkaResponse(encode(unknown_item), key=b"team-c"),
            topic=PULSE_RESPONSES,
        )

    assert [decode(c.body, ResponseScored).id for c in wiring.scored] == [scored_id(good)]
    assert [c.body for c in wiring.dead] == [garbage, encode(unknown_item)]
    assert [c.key for c in wiring.dead] == [b"team-x", b"team-c"]
    for letter in wiring.dead:
        assert letter.headers[DLQ_REASON]
        assert letter.headers[DLQ_ORIGIN].startswith(f"{PULSE_RESPONSES}/")
        assert letter.headers[DLQ_GROUP] == GROUP
    assert "NOPE-01" in wiring.dead[1].headers[DLQ_REASON]
    assert wiring.dead_letter_count() == 2


async def test_a_response_to_another_bank_is_dead_lettered_not_scored_with_the_wrong_items(wiring: Wiring) -> None:
    other = response_event({"CON-01": 3}, bank_version="someone-elses-2025")

    async with TestKafkaBroker(wiring.broker) as br:
        await br.publish(encode(other), PULSE_RESPONSES, key=b"team-a")

    assert wiring.scored == []
    [letter] = wiring.dead
    assert "bank version 'someone-elses-2025'" in letter.headers[DLQ_REASON]
    assert load_bank().version in letter.headers[DLQ_REASON]


async def test_each_bad_record_is_dead_lettered_on_its_own(wiring: Wiring) -> None:
    unknown_item = response_event({"NOPE-01": 2})

    async with TestKafkaBroker(wiring.broker) as br:
        await br.publish(b"{not json", PULSE_RESPONSES, key=b"team-a")
        await br.publish(encode(unknown_item), PULSE_RESPONSES, key=b"team-a")
        await br.publish(encode(response_event({"ROLE-01": 4})), PULSE_RESPONSES, key=b"team-a")

    assert len(wiring.dead) == 2
    assert "JSON" in wiring.dead[0].headers[DLQ_REASON]
    assert "NOPE-01" in wiring.dead[1].headers[DLQ_REASON]
    assert len(wiring.scored) == 1


async def test_dead_letter_reason_never_carries_an_answer(wiring: Wiring) -> None:
    wrong_type = encode(response_event({"CON-01": 3})).replace(b'"CON-01":3', b'"CON-01":["SECRET-ANSWER"]')
    wrong_option = response_event({"BHD-4W": "SECRET-ANSWER"})

    async with TestKafkaBroker(wiring.broker) as br:
        await br.publish(wrong_type, PULSE_RESPONSES, key=b"team-a")
        await br.publish(encode(wrong_option), PULSE_RESPONSES, key=b"team-a")

    assert len(wiring.dead) == 2
    for letter in wiring.dead:
        assert "SECRET-ANSWER" not in letter.headers[DLQ_REASON]
        assert "CON-01" in letter.headers[DLQ_REASON] or "BHD-4W" in letter.headers[DLQ_REASON]
    assert wiring.scored == []


async def test_another_event_type_on_the_topic_is_dead_lettered(wiring: Wiring) -> None:
    document = json.loads(encode(response_event({"CON-01": 3})))
    document["type"] = "org.wellpulse.pulse.response.scored"

    async with TestKafkaBroker(wiring.broker) as br:
        await br.publish(json.dumps(document).encode(), PULSE_RESPONSES, key=b"team-a")

    assert len(wiring.dead) == 1
    assert "type" in wiring.dead[0].headers[DLQ_REASON]
    assert wiring.scored == []


async def test_in_memory_broker_drives_the_handler_as_written(wiring: Wiring) -> None:
    """CONVENTIONS asks for one behaviour suite run in memory and against a real broker; without
    the ``aiokafka_like`` bridge the scoring handler fails under ``TestKafkaBroker``."""
    response = response_event({"CON-01": 4})

    async with TestKafkaBroker(wiring.broker) as br:
        await br.publish(encode(response), PULSE_RESPONSES, key=b"team-a")
        await br.publish(b"garbage", PULSE_RESPONSES, key=b"team-a")

    assert [decode(c.body, ResponseScored).id for c in wiring.scored] == [scored_id(response)]
    assert len(wiring.dead) == 1
