"""What an HR alert notification says, once, for every transport: the webhook body and the email text.

A notice carries unit-level figures only. It names no person and holds no individual answer, and its
wording says so, because the people reading it decide whether to trust the product.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

EVENT_TYPE = "alert.raised"


def _canonical_uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError(f"alert_id must be a UUID, got {value!r}") from None


def _one_line(value: str) -> str:
    # The title becomes an email Subject: a line break there would start a new header.
    if "\n" in value or "\r" in value:
        raise ValueError("title must be one line")
    return value


IsoWeek = Annotated[str, StringConstraints(pattern=r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class AlertNotice(BaseModel):
    """One raised alert as HR will read it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    alert_id: Annotated[str, AfterValidator(_canonical_uuid)]
    rule: Text
    title: Annotated[Text, AfterValidator(_one_line)]
    unit_id: Text
    unit_name: Text
    window_start_week: IsoWeek
    window_end_week: IsoWeek
    # The fewest people who answered in any one week of the window: every figure describes at least this many.
    people: int = Field(ge=1)
    findings: list[Text] = Field(min_length=1)
    first_step: Text
    changes: list[Text]
    raised_on: date
    link: str | None = None

    @model_validator(mode="after")
    def _window_in_order(self) -> AlertNotice:
        # Zero-padded ISO weeks with four-digit years sort as text.
        if self.window_start_week > self.window_end_week:
            raise ValueError(f"window starts ({self.window_start_week}) after it ends ({self.window_end_week})")
        return self

    def payload(self, at: datetime | None = None) -> bytes:
        """The webhook body, in the shape Standard Webhooks recommends (``type``, ``timestamp``, ``data``).

        ``at`` is when the alert was raised; the relay passes the outbox row's time so every resend of
        one alert carries the same bytes. Without it, now.
        """
        when = datetime.now(UTC) if at is None else at
        if when.tzinfo is None:
            raise ValueError("payload timestamp must be timezone-aware")
        body: dict[str, Any] = {
            "type": EVENT_TYPE,
            "timestamp": when.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "data": self.model_dump(mode="json"),
        }
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()

    def text(self) -> str:
        """The plain-text email body."""
        window = (
            f"week {self.window_end_week}"
            if self.window_start_week == self.window_end_week
            else f"weeks {self.window_start_week} to {self.window_end_week}"
        )
        lines = [
            self.title,
            "",
            f"Unit: {self.unit_name}",
            f"Period: {window}",
            f"Raised on: {self.raised_on.isoformat()}",
            "",
            "What crossed a threshold:",
            *(f"- {finding}" for finding in self.findings),
            "",
            "Suggested first step:",
            self.first_step,
        ]
        if self.changes:
            lines += ["", "Which of the 12 Changes this relates to:", *(f"- {change}" for change in self.changes)]
        lines.append("")
        if self.link:
            lines.append(f"See the alert: {self.link}")
        lines += [
            f"Alert id: {self.alert_id}",
            "",
            "About these numbers: no individual's answers are included in this alert, and nobody is named. "
            f"Every figure above comes from at least {self.people} people in each week of the period.",
        ]
        return "\n".join(lines) + "\n"
