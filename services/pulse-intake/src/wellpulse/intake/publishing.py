"""Publishing from a request: wait for the broker's acknowledgement, or give up in bounded time."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka.errors import KafkaError
from faststream.kafka.publisher.usecase import DefaultPublisher

from wellpulse.common.events import Envelope
from wellpulse.common.kafka import publish_events

log = logging.getLogger(__name__)


class BrokerUnavailable(Exception):
    """Kafka did not acknowledge in time: nothing was accepted, the client should retry."""


async def publish_or_fail(
    publisher: DefaultPublisher, events: list[tuple[str, Envelope[Any] | None]], within: float
) -> None:
    try:
        await asyncio.wait_for(publish_events(publisher, events), within)
    except (KafkaError, TimeoutError) as exc:
        log.warning("broker did not acknowledge: %s", type(exc).__name__)
        raise BrokerUnavailable from exc
