"""Scoring's subscriber: decode a batch, score each response, publish, then let the batch commit."""

from typing import Any

from aiokafka import ConsumerRecord
from faststream.kafka import KafkaBroker
from faststream.params import NoCast

from wellpulse.common.bank import InvalidAnswers, QuestionBank
from wellpulse.common.events import Envelope, PulseResponseSubmitted, ResponseScored
from wellpulse.common.kafka import DeadLetters, batch_subscriber, publish_batch
from wellpulse.common.settings import ServiceSettings
from wellpulse.common.telemetry import Telemetry
from wellpulse.common.topics import PULSE_RESPONSES, PULSE_SCORED
from wellpulse.scoring.scales import scored_event

GROUP = "wellpulse-scoring"


def register(broker: KafkaBroker, settings: ServiceSettings, telemetry: Telemetry, bank: QuestionBank) -> None:
    dead_letters = DeadLetters(broker, GROUP, telemetry)
    # Declared for the AsyncAPI document; records are sent through ``publish_batch``.
    broker.publisher(
        PULSE_SCORED,
        title=PULSE_SCORED,
        description="One scored response: HSE scale means and alert-family values. Key: unit id.",
        schema=Envelope[ResponseScored],
    )

    @batch_subscriber(broker, PULSE_RESPONSES, group_id=GROUP, settings=settings)
    async def score_responses(records: NoCast[list[ConsumerRecord[Any, Any]]]) -> None:
        """Score anonymous responses from ``pulse.responses`` into ``pulse.scored``."""
        outgoing = []
        for received in await dead_letters.decode_batch(records, PulseResponseSubmitted):
            if received.event.data.bank_version != bank.version:
                reason = f"bank version {received.event.data.bank_version!r} is not the one loaded ({bank.version!r})"
                await dead_letters.reject(received.record, reason)
                continue
            try:
                outgoing.append((received.event.data.unit_id, scored_event(received.event, bank)))
            except InvalidAnswers as exc:
                await dead_letters.reject(received.record, f"answers do not fit the bank: {exc}")
        await publish_batch(broker, PULSE_SCORED, outgoing, telemetry)
        await dead_letters.flush()
