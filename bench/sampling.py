"""Sampling services under the bench's load with py-spy (``--profile-intake``, ``--profile-consumers``),
and the profile's top lines: where the process spent its CPU, by function (own time) and by caller
(inclusive)."""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
import signal
import subprocess
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from runtime import BenchFailed, bounded, say

RATE_HZ = 200
LINE_NUMBER = re.compile(r":\d+\)$")
PACKAGE = re.compile(r"^.* \(([^/)]+)/.*\)$")


def _record(exe: str, pid: int, out: Path) -> subprocess.Popen[bytes]:
    out.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [exe, "record", "--pid", str(pid), "--rate", str(RATE_HZ), "--nonblocking", "--format", "raw", "-o", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


@asynccontextmanager
async def py_spy(pid: int | None, out: Path | None) -> AsyncIterator[None]:
    """Record ``pid`` with py-spy (collapsed stacks in ``out``) while the block runs; no-op without ``out``."""
    if out is None or pid is None:
        yield
        return
    exe = shutil.which("py-spy")
    if exe is None:
        raise BenchFailed("profiling needs py-spy on PATH (pip install py-spy)")
    recorder = await asyncio.to_thread(_record, exe, pid, out)
    await asyncio.sleep(1.0)  # py-spy attaches before the load starts
    if recorder.poll() is not None:
        raise BenchFailed(f"py-spy could not attach: {(recorder.stderr.read() if recorder.stderr else b'').decode()}")
    try:
        yield
    finally:
        recorder.send_signal(signal.SIGINT)  # py-spy writes the file on SIGINT
        await bounded("stopping py-spy", asyncio.to_thread(recorder.wait, 20))
        say(f"profile written to {out}")


@asynccontextmanager
async def py_spy_each(pids: dict[str, int | None], folder: Path | None) -> AsyncIterator[None]:
    """Record each named process at once while the block runs, into ``folder/<name>.txt``; no-op
    without ``folder``."""
    async with contextlib.AsyncExitStack() as stack:
        if folder is not None:
            for name, pid in pids.items():
                await stack.enter_async_context(py_spy(pid, folder / f"{name}.txt"))
        yield


def top_lines(collapsed: Path, n: int = 15) -> dict[str, Any]:
    """From py-spy's collapsed stacks: the share of samples each function was running (own), the same
    by the package it lives in, and the share it was on the stack (inclusive); the ``n`` largest."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    parts: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [LINE_NUMBER.sub(")", frame) for frame in stack.split(";")]  # by function, not by line
        samples = int(count)
        total += samples
        own[frames[-1]] += samples
        for frame in set(frames):
            inclusive[frame] += samples
        # Where the running frame's code lives (asyncpg, aiokafka, pydantic, intake, ...).
        parts[PACKAGE.sub(r"\1", frames[-1])] += samples

    def share(counter: Counter[str]) -> list[str]:
        return [f"{100 * c / total:5.1f}%  {frame}" for frame, c in counter.most_common(n)] if total else []

    return {"samples": total, "own": share(own), "own_by_package": share(parts), "inclusive": share(inclusive)}
