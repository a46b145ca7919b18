"""Taking one response for one link: checked, published, and the link spent, exactly once.

The link's row is locked for the whole decision, so of many submissions with one token exactly one
is published; the others wait, then find the link spent. The link is spent only after Kafka
acknowledged the response: if the broker fails, the transaction rolls back and the link still works.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from faststream.kafka.publisher.usecase import DefaultPublisher
from prometheus_client import Counter

from wellpulse.common.bank import InvalidAnswers, QuestionBank
from wellpulse.common.db import Database
from wellpulse.common.events import Envelope, PulseResponseSubmitted, start_of_day
from wellpulse.common.telemetry import Telemetry
from wellpulse.intake import store
from wellpulse.intake.publishing import BrokerUnavailable, publish_or_fail
from wellpulse.intake.settings import IntakeSettings
from wellpulse.intake.tokens import looks_like_token, response_event_id, token_hash

SOURCE = "/wellpulse/pulse-intake"


class Outcome(StrEnum):
    accepted = "accepted"
    already_answered = "already_answered"
    closed = "closed"
    unknown_link = "unknown_link"
    invalid = "invalid"
    unavailable = "unavailable"


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    link: store.Link | None = None
    errors: dict[str, str] = field(default_factory=dict)
    bullying_reported: bool = False


class ResponseDesk:
    def __init__(
        self,
        settings: IntakeSettings,
        database: Database,
        bank: QuestionBank,
        publisher: DefaultPublisher,
        telemetry: Telemetry,
    ) -> None:
        self._settings = settings
        self._key = settings.token_hash_key.get_secret_value().encode()
        self._database = database
        self._bank = bank
        self._publisher = publisher
        self._outcomes = Counter(
            "wellpulse_responses",
            "Responses submitted, by outcome.",
            ["outcome"],
            registry=telemetry.registry,
        )

    async def look_up(self, token: str) -> Result:
        """What opening the link shows: the form, or why not."""
        link = None
        if looks_like_token(token):
            link = await store.find_link(self._database.pool, token_hash(self._key, token))
        return Result(_state(link) or Outcome.accepted, link)

    async def submit(self, token: str, answers: Mapping[str, object]) -> Result:
        result = await self._submit(token, answers)
        self._outcomes.labels(outcome=result.outcome.value).inc()
        return result

    async def _submit(self, token: str, answers: Mapping[str, object]) -> Result:
        if not looks_like_token(token):
            return Result(Outcome.unknown_link)
        hashed = token_hash(self._key, token)
        async with self._database.transaction() as conn:
            link = await store.find_link(conn, hashed, lock=True)
            if (refused := _state(link)) is not None:
                return Result(refused, link)
            assert link is not None
            try:
                normalised = self._bank.validate_answers(answers, asked=link.pulse.items)
            except InvalidAnswers as exc:
                return Result(Outcome.invalid, link, errors=exc.errors)
            event = Envelope.wrap(
                PulseResponseSubmitted(
                    pulse_id=link.pulse.pulse_id,
                    unit_id=link.unit_id,
                    iso_week=link.pulse.iso_week,
                    bank_version=link.pulse.bank_version,
                    answers=normalised,
                ),
                source=SOURCE,
                subject=link.unit_id,
                event_id=response_event_id(self._key, token),
                at=start_of_day(date.today()),
            )
            try:
                await publish_or_fail(
                    self._publisher, [(link.unit_id, event)], self._settings.kafka_publish_timeout_seconds
                )
            except BrokerUnavailable:
                return Result(Outcome.unavailable, link)  # the transaction ends; the link is unspent
            await store.spend_link(conn, hashed)
        return Result(Outcome.accepted, link, bullying_reported=self._bank.reports_bullying(normalised))


def _state(link: store.Link | None) -> Outcome | None:
    if link is None:
        return Outcome.unknown_link
    if link.pulse.status != "open":
        return Outcome.closed
    if link.spent:
        return Outcome.already_answered
    return None
