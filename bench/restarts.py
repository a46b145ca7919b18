"""Phase 5, restart to ready: each consumer service stopped (SIGTERM) or killed (SIGKILL) and started
again at once, timed from the new process's start until its ``/readyz`` answers 200, which it
does only once every one of its consumer groups has been joined."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from runtime import BenchFailed, Deadline, say

from wellpulse.devstack.embedded import StackError
from wellpulse.devstack.stack import Services

CONSUMERS = ("scoring", "alerts", "reporting")
READY_WITHIN_S = 90.0


async def restart_phase(services: Services, deadline: Deadline) -> dict[str, Any]:
    """{service: {"after_sigterm_s": ..., "after_sigkill_s": ...}} for every consumer service."""
    figures: dict[str, Any] = {}
    for name in CONSUMERS:
        figures[name] = {
            "after_sigterm_s": await _restart(services, name, "stop", deadline),
            "after_sigkill_s": await _restart(services, name, "kill", deadline),
        }
        say(f"restart to ready, {name}: {figures[name]}")
    return figures


async def _restart(services: Services, name: str, how: str, deadline: Deadline) -> float:
    deadline.check(f"restarting {name}")
    process = services.processes[name]
    await asyncio.to_thread(process.stop if how == "stop" else process.kill)
    started = time.monotonic()
    await asyncio.to_thread(process.start)  # the same port again; the log is appended to
    try:
        await asyncio.to_thread(process.wait_ready, min(READY_WITHIN_S, max(deadline.left(), 1.0)))
    except StackError as exc:
        raise BenchFailed(f"{name} did not come back after {how}: {exc}") from None
    return round(time.monotonic() - started, 2)
