"""Taking one response for one link: checked, published, and the link spent, exactly once.

A submission claims its link in one statement, publishes with no row lock and no pooled connection
held while Kafka answers, then spends the link; if the broker refuses, the claim is released and
the link still works. Of many submissions with one token exactly one claims it; in this process the
others wait for that one's outcome. A claim older than the publish timeout may be taken again (its
holder crashed between publish and spend): the response's event id derives from the token, so the
second publish is absorbed downstream.
"""

from __future__ import annotations

import asyncio
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
from wellpulse.intake.answer_window import last_answer_day, takes_answers
from wellpulse.intake.publishing import BrokerUnavailable, publish_or_fail
from wellpulse.intake.settings import IntakeSettings
from wellpulse.intake.tokens import looks_like_token, response_event_id, token_hash

SOURCE = "/wellpulse/pulse-intake"
# A claim is taken over only once its holder must have given up on Kafka: past the publish
# timeout, with this much more for the spend statement after the acknowledgement.
CLAIM_MARGIN_SECONDS = 2.0


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
    # Closed because its week's answers are in (answer_window): the last day it took answers.
    answers_until: date | None = None


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
        self._claim_expires_after = settings.kafka_publish_timeout_seconds + CLAIM_MARGIN_SECONDS
        self._sending: dict[bytes, asyncio.Future[Result]] = {}
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
        if (state := _state(link)) is not None:
            return Result(state, link)
        return self._too_late(link) or Result(Outcome.accepted, link)

    def _too_late(self, link: store.Link | None) -> Result | None:
        """Closed once its week's answers are in, whether or not the round was closed (answer_window)."""
        if link is None:
            return None
        settings, week = self._settings, link.pulse.iso_week
        if takes_answers(week, date.today(), settings.late_answer_days, settings.answer_past_weeks):
            return None
        return Result(Outcome.closed, link, answers_until=last_answer_day(week, settings.late_answer_days))

    async def submit(self, token: str, answers: Mapping[str, object]) -> Result:
        result = await self._submit(token, answers)
        self._outcomes.labels(outcome=result.outcome.value).inc()
        return result

    async def _submit(self, token: str, answers: Mapping[str, object]) -> Result:
        if not looks_like_token(token):
            return Result(Outcome.unknown_link)
        hashed = token_hash(self._key, token)
        # The same token already on its way from this process: its outcome decides this one too,
        # unless its answers were refused, when these answers get their own chance.
        while (sending := self._sending.get(hashed)) is not None:
            first = await asyncio.shield(sending)
            if first.outcome is Outcome.accepted:
                return Result(Outcome.already_answered, first.link)
            if first.outcome is not Outcome.invalid:
                return Result(first.outcome, first.link)
        outcome: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._sending[hashed] = outcome
        result = Result(Outcome.unavailable)
        try:
            result = await self._send(token, hashed, answers)
            return result
        finally:
            del self._sending[hashed]
            outcome.set_result(result)

    async def _send(self, token: str, hashed: bytes, answers: Mapping[str, object]) -> Result:
        pool = self._database.pool
        claim = await store.claim_link(pool, hashed, self._claim_expires_after)
        link = claim.link
        if claim.claimed_at is None:
            # Sent by another process right now: not taken, and the link may still work afterwards.
            return Result(_state(link) or Outcome.unavailable, link)
        assert link is not None
        if (late := self._too_late(link)) is not None:
            await store.release_link(pool, hashed, claim.claimed_at)
            return late
        try:
            normalised = self._bank.validate_answers(answers, asked=link.pulse.items)
        except InvalidAnswers as exc:
            await store.release_link(pool, hashed, claim.claimed_at)
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
            within = self._settings.kafka_publish_timeout_seconds
            await publish_or_fail(self._publisher, [(link.unit_id, event)], within)
        except BrokerUnavailable:
            await store.release_link(pool, hashed, claim.claimed_at)
            return Result(Outcome.unavailable, link)
        # A crash here leaves the link claimed, not spent: once the claim is stale a retry publishes
        # the same event id again, and consumers drop the copy.
        await store.spend_link(pool, hashed)
        return Result(Outcome.accepted, link, bullying_reported=self._bank.reports_bullying(normalised))


def _state(link: store.Link | None) -> Outcome | None:
    """Why this link takes no response now, or None when it does."""
    if link is None:
        return Outcome.unknown_link
    if link.pulse.status != "open":
        return Outcome.closed
    if link.spent:
        return Outcome.already_answered
    return None
