"""Phases 1 and 2, the live flow and the scoring backlog: what they submit, what they wait for and
the figures they report."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from load import Round, Submission, status_counts, submit_all
from measure import CpuMeter, Sampler, ScoredReader, growth_rate, max_backlog, rate, since, spread, visible_at
from runtime import BenchFailed, Deadline, say
from sampling import py_spy_each

from wellpulse.common.bank import QuestionBank
from wellpulse.common.topics import PULSE_SCORED
from wellpulse.devstack.embedded import StackError
from wellpulse.devstack.stack import Services

ROLLUP_POLL_S = 0.02
OFFSETS_POLL_S = 0.05
CONSUMERS = ("scoring", "alerts", "reporting")


@dataclass
class Pipeline:
    """What the phases share: the stack, the round, and the two samplers with their baselines."""

    args: argparse.Namespace
    services: Services
    deadline: Deadline
    bank: QuestionBank
    round: Round
    rollups: Sampler
    alert_state: Sampler
    topics: Sampler
    reader: ScoredReader
    base_rollups: int
    base_alert_state: int
    base_offsets: dict[str, int]
    cpu: CpuMeter

    async def submit(self, seed: int) -> list[Submission]:
        """N fresh responses through intake, each on a link not yet used."""
        bodies = self.round.bodies(self.args.responses, self.bank, seed)
        url = f"{self.services.url('pulse-intake')}/v1/responses"
        return await submit_all(url, bodies, self.args.concurrency, self.args.client, self.deadline)

    def rolled_up(self) -> int:
        return (self.rollups.latest or self.base_rollups) - self.base_rollups

    def in_alert_state(self) -> int:
        """Scored responses alerts has applied (its ``applied_events``) since the run began."""
        return (self.alert_state.latest or self.base_alert_state) - self.base_alert_state

    def committed(self, key: str = "committed") -> int:
        counts = self.topics.latest or self.base_offsets
        return int(counts[key] - self.base_offsets[key])

    def committed_samples(self) -> list[tuple[float, int]]:
        base = self.base_offsets["committed"]
        return [(t, v["committed"] - base) for t, v in self.topics.samples]

    def all_scored(self, target: int) -> bool:
        return self.reader.count >= target and self.committed() >= target

    def progress(self) -> str:
        return (
            f"{PULSE_SCORED} records read +{self.reader.count}, scoring group committed "
            f"+{self.committed()}, rollups +{self.rolled_up()}, alert state +{self.in_alert_state()}"
        )

    async def until(self, what: str, condition: Callable[[], bool]) -> float:
        """Poll ``condition`` until it holds; fail on the deadline or when a service process died."""
        last_report = time.monotonic()
        while not condition():
            for name, process in self.services.processes.items():
                code = process.process.poll() if process.process else None
                if code is not None:
                    raise BenchFailed(f"{name} exited with code {code} while {what}; see {self.services.log_dir}")
            if self.deadline.left() <= 0:
                raise BenchFailed(f"the pipeline did not drain: timed out while {what} ({self.progress()})")
            if time.monotonic() - last_report > 5:
                say(f"still {what}: {self.progress()}")
                last_report = time.monotonic()
            await asyncio.sleep(0.01)
        return time.monotonic()


async def live_phase(p: Pipeline, result: dict[str, Any]) -> None:
    """Phase 1: N responses through intake, scoring and reporting while they arrive."""
    say(f"phase 1: submitting {p.args.responses} responses, {p.args.concurrency} in flight")
    subs = await p.submit(seed=48)
    accepted = sorted((s for s in subs if s.status == 202), key=lambda s: s.answered_at)
    result["intake_statuses"] = status_counts(subs)
    say(f"submitted: {result['intake_statuses']}")
    if not accepted:
        raise BenchFailed(f"intake accepted nothing: {result['intake_statuses']}")
    first_submit = min(s.submitted_at for s in subs if s.submitted_at)
    last_accept = accepted[-1].answered_at
    target = result["accepted"] = len(accepted)
    result["intake_accepted_per_s"] = rate(target, last_accept - first_submit)
    result["intake_request_ms"] = spread([s.answered_at - s.submitted_at for s in accepted])
    drained_at = await p.until(
        f"waiting for {target} responses in reporting's rollups", lambda: p.rolled_up() >= target
    )
    await p.until(f"waiting for {target} records scored and committed", lambda: p.all_scored(target))
    await asyncio.sleep(2 * OFFSETS_POLL_S)  # let the samplers record the final state
    say(f"phase 1 drained {drained_at - first_submit:.1f}s after the first submit")

    visible = visible_at(accepted, p.rollups.samples, p.base_rollups)
    scoring_per_s, scored_first, scored_end = growth_rate(p.reader.samples, 0, target)
    committed_per_s, _, _ = growth_rate(p.committed_samples(), 0, target)
    result.update(
        {
            "scoring_per_s": scoring_per_s,
            "scoring_committed_per_s": committed_per_s,
            "end_to_end_per_s": rate(target, drained_at - first_submit),
            "submit_to_rollup_ms": spread([v - s.submitted_at for v, s in zip(visible, accepted, strict=False)]),
            # The asynchronous part alone: from the 202 to the rollup.
            "accept_to_rollup_ms": spread([v - s.answered_at for v, s in zip(visible, accepted, strict=False)]),
            "phase1": {
                "submit_s": round(last_accept - first_submit, 2),
                "first_scored_after_s": since(scored_first, first_submit),
                "all_scored_after_s": since(scored_end, first_submit),
                "all_in_rollups_after_s": since(drained_at, first_submit),
                "scoring_max_backlog": max_backlog(accepted, p.committed_samples()),
            },
            # Exact on Apache Kafka; short on Tansu 0.6, whose end offsets lag batched produces.
            "pulse_scored_end_offsets": {"expected": target, "seen": p.committed("scored_end")},
        }
    )


async def backlog_phase(p: Pipeline, done: int) -> dict[str, Any]:
    """Phase 2: scoring stopped, N more responses accepted, scoring restarted to work them off."""
    scoring = p.services.processes["scoring"]
    say("phase 2: stopping scoring to build a backlog")
    await asyncio.to_thread(scoring.stop)
    subs = await p.submit(seed=49)
    accepted = sum(1 for s in subs if s.status == 202)
    say(f"backlog submitted: {status_counts(subs)}; restarting scoring")
    target = done + accepted
    restarted_at = time.monotonic()
    # The same port again; the log is appended to.
    await asyncio.to_thread(scoring.start)
    # With --profile-consumers, the three consumers are sampled from scoring's start (it is still
    # joining its group then) until the drain is over.
    consumers = {name: p.services.processes[name].process for name in CONSUMERS}
    async with py_spy_each({n: c.pid if c else None for n, c in consumers.items()}, p.args.profile_consumers):
        try:
            await asyncio.to_thread(scoring.wait_ready, min(60.0, max(p.deadline.left(), 1.0)))
        except StackError as exc:  # a service that dies mid-run fails the run (exit 1), not the start-up
            raise BenchFailed(f"scoring did not come back after its restart: {exc}") from None
        ready_at = time.monotonic()
        at_ready = p.cpu.snapshot()  # the drain's CPU, without scoring's start-up
        scored_at = await p.until(f"waiting for scoring to work off {accepted} responses", lambda: p.all_scored(target))
        rolled_at = await p.until(
            f"waiting for {target} responses in reporting's rollups", lambda: p.rolled_up() >= target
        )
        alerted_at = await p.until(
            f"waiting for {target} responses in alerts' state", lambda: p.in_alert_state() >= target
        )
        drain_cpu = p.cpu.since(at_ready)
    await asyncio.sleep(2 * OFFSETS_POLL_S)
    per_s, first, last = growth_rate(p.reader.samples, done, target)
    # The whole pipeline on a backlog: from scoring's first record out until every response is in
    # reporting's committed rollups and alerts' committed state. Set against the passthrough.
    drained_at = max(rolled_at, alerted_at)
    pipeline_per_s = rate(accepted, drained_at - first) if first is not None else None
    committed_per_s, _, _ = growth_rate(p.committed_samples(), done, target)
    say(f"phase 2 drained: scoring worked the backlog off at {per_s}/s")
    return {
        "responses": accepted,
        "intake_statuses": status_counts(subs),
        "scoring_per_s": per_s,
        "scoring_committed_per_s": committed_per_s,
        "pipeline_per_s": pipeline_per_s,
        "restart_to_ready_s": since(ready_at, restarted_at),
        "restart_to_first_scored_s": since(first, restarted_at),
        "restart_to_all_scored_s": since(last, restarted_at),
        "restart_to_all_committed_s": since(scored_at, restarted_at),
        "restart_to_all_in_rollups_s": since(rolled_at, restarted_at),
        "restart_to_all_in_alert_state_s": since(alerted_at, restarted_at),
        # CPU per response from scoring's readiness until the last response is in alert state:
        # what each part of the stack costs a response, which a shared machine disturbs least.
        "drain_cpu_ms_per_response": {
            part: round(1000 * seconds / accepted, 3) for part, seconds in drain_cpu.get("cpu_s", {}).items()
        }
        if accepted
        else {},
    }
