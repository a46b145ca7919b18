"""What every part of the benchmark shares: progress lines on stderr, the run's deadline and
clean-up steps that cannot hang."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable
from typing import Any

STARTED = time.monotonic()


class BenchFailed(RuntimeError):
    """The pipeline did not do what was measured in time; the message says what and where."""


def say(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:7.1f}s] {message}", file=sys.stderr, flush=True)


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        return self.at - time.monotonic()

    def check(self, what: str) -> None:
        if self.left() <= 0:
            raise BenchFailed(f"deadline passed while {what}")


async def bounded(what: str, awaitable: Awaitable[Any], seconds: float = 15.0) -> None:
    """Clean-up with a deadline: a step that hangs or fails is reported and skipped."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(seconds):
            await awaitable
        if time.monotonic() - started > 2:
            say(f"{what} took {time.monotonic() - started:.1f}s")
    except TimeoutError:
        say(f"{what} did not finish within {seconds:.0f}s; carrying on")
    except Exception as exc:  # noqa: BLE001 - clean-up carries on whatever went wrong
        say(f"{what} failed: {type(exc).__name__}: {exc}")
