"""Measuring the stack while it runs: samplers, the ``pulse.scored`` reader, the CPU meter, and the
arithmetic that turns their samples into rates and percentiles."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from load import Submission
from runtime import Deadline, bounded, say

from wellpulse.common.topics import PULSE_RESPONSES, PULSE_SCORED
from wellpulse.devstack.stack import Infrastructure, Services


async def cancel(task: asyncio.Task[None] | None) -> None:
    """Cancel ``task`` and wait until it has ended; an error it ended with is raised here."""
    if task:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@dataclass
class Sampler:
    """Runs ``probe`` every ``interval`` seconds and keeps (time after the probe returned, value)."""

    name: str
    probe: Callable[[], Awaitable[Any]]
    interval: float
    samples: list[tuple[float, Any]] = field(default_factory=list)
    errors: int = 0
    _task: asyncio.Task[None] | None = field(default=None, init=False, repr=False)
    _stopping: bool = field(default=False, init=False, repr=False)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"sampler-{self.name}")

    async def stop(self) -> None:
        self._stopping = True  # the loop also checks this: a cancel alone can be lost (below)
        await cancel(self._task)

    @property
    def latest(self) -> Any:
        return self.samples[-1][1] if self.samples else None

    async def _run(self) -> None:
        while not self._stopping:
            started = time.monotonic()
            try:
                # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancel that arrives as
                # the probe completes, and the sampler would poll on after stop().
                async with asyncio.timeout(5.0):
                    value = await self.probe()
                self.samples.append((time.monotonic(), value))
            except Exception as exc:  # noqa: BLE001 - a failed probe is counted, the next one retries
                self.errors += 1
                if self.errors <= 3:
                    say(f"{self.name} probe failed: {type(exc).__name__}: {exc}")
            await asyncio.sleep(max(self.interval - (time.monotonic() - started), 0.0))


class ScoringOffsets:
    """Scoring's progress as its consumer group sees it, and what ``pulse.scored`` says it holds.

    ``committed``: the scoring group's committed offsets on ``pulse.responses``, summed over partitions.
    Scoring commits a batch only after the broker acknowledged every record it produced for it, so
    this counts responses scored and safely on ``pulse.scored``.
    ``scored_end``: ``end_offsets`` of ``pulse.scored`` summed over partitions. Exact on Apache Kafka;
    Tansu 0.6 answers the last batch's base offset + 1, so it undercounts whenever records arrive in
    batches of more than one (see bench/README.md). Recorded as a cross-check only.
    """

    def __init__(self, bootstrap: str, group: str) -> None:
        self.group = group
        self.admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self.partitions: dict[str, list[TopicPartition]] = {}

    async def start(self, deadline: Deadline) -> None:
        await self.admin.start()
        await self.consumer.start()
        topics = (PULSE_RESPONSES, PULSE_SCORED)
        while True:
            await self.consumer.topics()  # refreshes metadata
            found = {t: self.consumer.partitions_for_topic(t) for t in topics}
            if all(found.values()):
                break
            deadline.check(f"waiting for topics {', '.join(topics)}")
            await asyncio.sleep(0.2)
        self.partitions = {t: [TopicPartition(t, p) for p in sorted(ps or ())] for t, ps in found.items()}

    async def counts(self) -> dict[str, int]:
        committed = await self.admin.list_consumer_group_offsets(
            self.group, partitions=self.partitions[PULSE_RESPONSES]
        )
        ends = await self.consumer.end_offsets(self.partitions[PULSE_SCORED])
        return {
            "committed": sum(max(o.offset, 0) for o in committed.values() if o is not None),
            "scored_end": sum(ends.values()),
        }

    async def stop(self) -> None:
        await bounded("closing the admin client", self.admin.close())
        await bounded("closing the offsets consumer", self.consumer.stop())


class ScoredReader:
    """Counts records as they land on ``pulse.scored``: a group-less consumer reading from the end
    the topic had when it started, keeping (time, records read so far) after every fetch. Counting
    by reading works around Tansu's ``end_offsets``, which undercount batched topics."""

    def __init__(self, bootstrap: str) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=20)
        self.count = 0
        self.samples: list[tuple[float, int]] = []
        self._task: asyncio.Task[None] | None = None

    async def start(self, partitions: Sequence[TopicPartition]) -> None:
        await self.consumer.start()
        self.consumer.assign(list(partitions))
        await self.consumer.seek_to_end(*partitions)
        self._task = asyncio.create_task(self._run(), name="scored-reader")

    async def _run(self) -> None:
        while True:
            batch = await self.consumer.getmany(timeout_ms=50, max_records=10_000)
            read = sum(len(records) for records in batch.values())
            if read:
                self.count += read
                self.samples.append((time.monotonic(), self.count))

    async def stop(self) -> None:
        await bounded("stopping the pulse.scored reader", cancel(self._task))
        await bounded("closing the pulse.scored reader", self.consumer.stop())


def process_cpu_seconds(pid: int, tick: int | None = None) -> float | None:
    """CPU seconds (user + system) a process has used, from /proc; None where that cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / (tick or os.sysconf("SC_CLK_TCK"))  # utime + stime


class CpuMeter:
    """CPU seconds each part of the stack used in a window, from /proc (Linux only; else empty).

    Parts: the four services, Tansu, PostgreSQL (postmaster and its backends) and this process
    (the load generator, samplers and the passthrough). Parts given from the environment are absent.
    """

    def __init__(self, infra: Infrastructure, services: Services) -> None:
        self.infra = infra
        self.services = services
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def _cpu(self, pid: int) -> float | None:
        return process_cpu_seconds(pid, self.tick)

    def _children(self, parent: int) -> list[int]:
        children = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, IndexError):
                    if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                        children.append(int(entry.name))
        return children

    def _pids(self) -> dict[str, list[int]]:
        pids = {name: [sp.process.pid] for name, sp in self.services.processes.items() if sp.process}
        if self.infra.tansu and self.infra.tansu.process:
            pids["tansu"] = [self.infra.tansu.process.pid]
        if self.infra.postgres:
            with contextlib.suppress(OSError, ValueError, IndexError):
                postmaster = int((self.infra.postgres.data / "postmaster.pid").read_text().split()[0])
                pids["postgres"] = [postmaster, *self._children(postmaster)]
        pids["bench"] = [os.getpid()]
        return pids

    def snapshot(self) -> tuple[float, dict[str, dict[int, float]]]:
        if not Path("/proc/self/stat").exists():
            return time.monotonic(), {}
        taken = {
            name: {pid: cpu for pid in pids if (cpu := self._cpu(pid)) is not None}
            for name, pids in self._pids().items()
        }
        return time.monotonic(), taken

    def since(self, before: tuple[float, dict[str, dict[int, float]]]) -> dict[str, Any]:
        """CPU seconds per part since ``before`` (a process that restarted counts from its start)."""
        started, old = before
        now, new = self.snapshot()
        if not new:
            return {}
        used = {
            name: round(sum(cpu - old.get(name, {}).get(pid, 0.0) for pid, cpu in pids.items()), 2)
            for name, pids in new.items()
        }
        wall = now - started
        return {
            "wall_s": round(wall, 2),
            "cpu_s": used,
            "cores_busy": round(sum(used.values()) / wall, 2) if wall > 0 else None,
        }


# --- figures -------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


def rate(count: float, seconds: float) -> float | None:
    return round(count / seconds, 1) if seconds > 0 else None


def since(t: float | None, start: float) -> float | None:
    return round(t - start, 2) if t is not None else None


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def spread(values: Sequence[float]) -> dict[str, float | None]:
    return {
        "p50": ms(percentile(values, 50)),
        "p99": ms(percentile(values, 99)),
        "max": ms(max(values, default=None)),
    }


def visible_at(accepted: Sequence[Submission], samples: Sequence[tuple[float, int]], baseline: int) -> list[float]:
    """When each accepted response became visible: the k-th to get its 202 counts as visible at the
    first sample whose rollup sum reached k. Shorter than ``accepted`` if the sum never got there."""
    times = []
    j = 0
    for k in range(1, len(accepted) + 1):
        while j < len(samples) and samples[j][1] - baseline < k:
            j += 1
        if j == len(samples):
            break
        times.append(samples[j][0])
    return times


def growth_rate(
    samples: Sequence[tuple[float, int]], start: int, target: int
) -> tuple[float | None, float | None, float | None]:
    """(records/s from the first sample above ``start`` until ``target``, first time, end time)."""
    first = next(((t, v) for t, v in samples if v > start), None)
    end = next((t for t, v in samples if v >= target), None)
    if first is None or end is None:
        return None, None, None
    # The first sample's own records arrived before it, at an unknown time: they are not counted.
    return rate(target - first[1], end - first[0]), first[0], end


def max_backlog(accepted: Sequence[Submission], committed: Sequence[tuple[float, int]]) -> int:
    """The most responses ever accepted (202) but not yet committed by the scoring group."""
    answered = [s.answered_at for s in accepted]  # sorted: ``accepted`` is in order of its 202s
    return max((bisect.bisect_right(answered, t) - n for t, n in committed), default=0)
