"""The outcome of one delivery attempt, shared by every transport so the relay treats them alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Outcome = Literal["delivered", "retry", "failed"]


@dataclass(frozen=True)
class Attempt:
    """``retry``: try again later (``next_attempt`` says when); ``failed``: stop, the reason is in ``error``.

    ``error`` is a short reason a person can act on. It never carries the payload or a secret.
    """

    outcome: Outcome
    status: int | None = None
    retry_after_seconds: float | None = None
    error: str | None = None

    @classmethod
    def delivered(cls, status: int | None = None) -> Attempt:
        return cls("delivered", status)

    @classmethod
    def retry(cls, error: str, status: int | None = None, retry_after_seconds: float | None = None) -> Attempt:
        return cls("retry", status, retry_after_seconds, error)

    @classmethod
    def failed(cls, error: str, status: int | None = None) -> Attempt:
        return cls("failed", status, None, error)
