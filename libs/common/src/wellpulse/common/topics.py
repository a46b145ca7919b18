"""Kafka topic names, what keys them, and how each is configured."""

from dataclasses import dataclass, field

ORG_UNITS = "org.units"
PULSE_RESPONSES = "pulse.responses"
PULSE_SCORED = "pulse.scored"
PULSE_ALERTS = "pulse.alerts"


def dead_letter(topic: str) -> str:
    """The dead-letter topic for ``topic``: poison records land there with the reason in headers."""
    return f"{topic}.dlq"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str
    config: dict[str, str] = field(default_factory=dict)


# Every topic is keyed by org unit so one unit's events stay ordered on one partition.
TOPICS: tuple[TopicSpec, ...] = (
    # Compacted: the latest state of every unit, a tombstone for a removed one.
    TopicSpec(ORG_UNITS, "unit id", {"cleanup.policy": "compact"}),
    TopicSpec(PULSE_RESPONSES, "unit id"),
    TopicSpec(PULSE_SCORED, "unit id"),
    TopicSpec(PULSE_ALERTS, "unit id"),
    TopicSpec(dead_letter(PULSE_RESPONSES), "original key"),
    TopicSpec(dead_letter(PULSE_SCORED), "original key"),
    TopicSpec(dead_letter(ORG_UNITS), "original key"),
)
