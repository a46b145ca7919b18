"""Pipeline benchmark: the real stack end to end, and a raw Kafka passthrough as its ceiling.
The command line: starts and stops the stack, runs the phases, prints the JSON (see bench/README.md)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import shutil
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

import asyncpg
from alerts import ALERT_TEAMS, alerts_phase
from alerts import SERVICE_ENV as ALERTS_SERVICE_ENV
from bare import bare_phase
from ceiling import raw_passthrough, sample_records
from load import CLIENTS, open_round
from measure import CpuMeter, Sampler, ScoredReader, ScoringOffsets, ratio
from phases import CONSUMERS, OFFSETS_POLL_S, ROLLUP_POLL_S, Pipeline, backlog_phase, live_phase
from restarts import restart_phase
from runtime import BenchFailed, Deadline, bounded, say
from sampling import py_spy, top_lines

from wellpulse.common.bank import load_bank
from wellpulse.common.topics import PULSE_RESPONSES, PULSE_SCORED
from wellpulse.devstack.embedded import StackError
from wellpulse.devstack.issuer import sign
from wellpulse.devstack.stack import Infrastructure, Services
from wellpulse.scoring.handlers import GROUP as SCORING_GROUP

REPO = Path(__file__).resolve().parent.parent
LOG_PROBLEM = re.compile(r"\b(ERROR|CRITICAL|WARNING|Traceback)\b")


async def run(args: argparse.Namespace, infra: Infrastructure, services: Services, result: dict[str, Any]) -> None:
    """The phases; figures go into ``result`` as soon as they are known."""
    deadline = Deadline(args.timeout)
    links_needed = args.responses * (1 if args.skip_backlog else 2)
    admin = sign(infra.issuer.folder, roles=["admin"])
    alert_teams = 0 if args.skip_alerts else ALERT_TEAMS
    bench_round = await open_round(services.url("pulse-intake"), admin, links_needed, alert_teams)
    bank = load_bank()
    cpu = CpuMeter(infra, services)

    db = await asyncpg.connect(infra.database_url, timeout=10)
    # A connection per sampler: one asyncpg connection runs one query at a time.
    alerts_db = await asyncpg.connect(infra.database_url, timeout=10)
    offsets = ScoringOffsets(infra.kafka_bootstrap, SCORING_GROUP)
    reader = ScoredReader(infra.kafka_bootstrap)
    samplers: list[Sampler] = []
    try:
        await offsets.start(deadline)
        result["partitions"] = len(offsets.partitions[PULSE_RESPONSES])
        await reader.start(offsets.partitions[PULSE_SCORED])

        async def rollup_count() -> int:
            return int(
                await db.fetchval("SELECT coalesce(sum(n), 0) FROM reporting.own_rollups WHERE measure = 'responses'")
            )

        async def alert_state_count() -> int:
            return int(await alerts_db.fetchval("SELECT count(*) FROM alerts.applied_events"))

        rollups = Sampler("rollups", rollup_count, ROLLUP_POLL_S)
        alert_state = Sampler("alert state", alert_state_count, ROLLUP_POLL_S)
        topics = Sampler("offsets", offsets.counts, OFFSETS_POLL_S)
        pipeline = Pipeline(
            args=args,
            services=services,
            deadline=deadline,
            bank=bank,
            round=bench_round,
            rollups=rollups,
            alert_state=alert_state,
            topics=topics,
            reader=reader,
            base_rollups=await rollup_count(),
            base_alert_state=await alert_state_count(),
            base_offsets=await offsets.counts(),
            cpu=cpu,
        )
        samplers = [rollups, alert_state, topics]
        for sampler in samplers:
            sampler.start()
        result["cpu"] = {}
        before = cpu.snapshot()
        intake = services.processes["pulse-intake"].process
        async with py_spy(intake.pid if intake else None, args.profile_intake):
            await live_phase(pipeline, result)
        result["cpu"]["live"] = cpu.since(before)
        if not args.skip_backlog:
            before = cpu.snapshot()
            result["backlog_drain"] = await backlog_phase(pipeline, done=result["accepted"])
            result["cpu"]["backlog"] = cpu.since(before)
    finally:
        for sampler in samplers:
            await bounded(f"stopping the {sampler.name} sampler", sampler.stop())
        await reader.stop()
        await offsets.stop()
        await bounded("closing the database connection", db.close())
        await bounded("closing the alert state connection", alerts_db.close())

    # The intake baseline, with the services idle: the same requests to a bare FastAPI app.
    before = cpu.snapshot()
    result["bare"] = await bare_phase(
        bench_round, bank, args.responses, args.concurrency, args.client, deadline, services.log_dir
    )
    result["cpu"]["bare"] = cpu.since(before)
    result["bare_fastapi_per_s"] = result["bare"]["bare_fastapi_per_s"]
    result["intake_ratio_to_bare"] = ratio(result["intake_accepted_per_s"], result["bare_fastapi_per_s"])
    # The same comparison in CPU per request, which another session's load disturbs less.
    intake_cpu = result["cpu"]["live"].get("cpu_s", {}).get("pulse-intake")
    if intake_cpu is not None:
        result["intake_cpu_ms_per_response"] = round(1000 * intake_cpu / result["accepted"], 3)

    # Phase 3: the ceiling, with the services idle.
    values, keys = sample_records(bench_round, bank)
    before = cpu.snapshot()
    result["ceiling"] = await raw_passthrough(infra, args.responses, result["partitions"], values, keys, deadline)
    result["cpu"]["ceiling"] = cpu.since(before)
    ceiling = result["raw_passthrough_per_s"] = result["ceiling"]["raw_passthrough_per_s"]
    result["ratio_scoring_to_ceiling"] = ratio(result.get("scoring_per_s"), ceiling)
    if "backlog_drain" in result:
        result["ratio_scoring_backlog_to_ceiling"] = ratio(result["backlog_drain"]["scoring_per_s"], ceiling)
        result["pipeline_backlog_per_s"] = result["backlog_drain"]["pipeline_per_s"]
        result["pipeline_ratio_to_ceiling"] = ratio(result["pipeline_backlog_per_s"], ceiling)

    if args.profile_intake is not None and args.profile_intake.exists():
        result["intake_profile"] = top_lines(args.profile_intake)
    if args.profile_consumers is not None:
        result["consumer_profiles"] = {
            name: top_lines(path) for name in CONSUMERS if (path := args.profile_consumers / f"{name}.txt").exists()
        }

    # Phase 4: alerts, from the submission that calls for one to the alert and to HR's webhook.
    if not args.skip_alerts:
        applied = result["accepted"] + result.get("backlog_drain", {}).get("responses", 0)
        before = cpu.snapshot()
        result.update(await alerts_phase(services, bench_round, bank, infra.database_url, admin, deadline, applied))
        result["cpu"]["alerts"] = cpu.since(before)

    # Phase 5: each consumer service restarted, gracefully and after a crash.
    if not args.skip_restarts:
        result["restart_to_ready_s"] = await restart_phase(services, deadline)


def log_problems(log_dir: Path) -> dict[str, Any]:
    """Counts of warnings and errors in each service log, with the first few lines of each kind."""
    found: dict[str, Any] = {}
    for path in sorted(log_dir.glob("*.log")):
        counts: dict[str, int] = {}
        examples: list[str] = []
        for line in path.read_text(errors="replace").splitlines():
            match = LOG_PROBLEM.search(line)
            if match:
                counts[match.group(1)] = counts.get(match.group(1), 0) + 1
                if len(examples) < 5:
                    examples.append(line[:300])
        if counts:
            found[path.stem] = {"counts": counts, "first": examples}
    return found


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--responses", type=int, default=2000, help="responses per phase (default 2000)")
    parser.add_argument("--concurrency", type=int, default=32, help="HTTP requests in flight (default 32)")
    parser.add_argument(
        "--client",
        choices=tuple(CLIENTS),
        default="httpx",
        help="load generator: httpx.AsyncClient per worker (default), or a bare HTTP/1.1 client that "
        "needs far less CPU",
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="deadline for the measured run, s")
    parser.add_argument("--json-out", type=Path, help="also write the JSON document here")
    parser.add_argument("--skip-backlog", action="store_true", help="skip the scoring backlog phase")
    parser.add_argument("--skip-alerts", action="store_true", help="skip the alert latency phase")
    parser.add_argument("--skip-restarts", action="store_true", help="skip the restart-to-ready phase")
    parser.add_argument(
        "--profile-intake",
        type=Path,
        metavar="FILE",
        help="record intake with py-spy during phase 1 (collapsed stacks to FILE; top lines in the JSON)",
    )
    parser.add_argument(
        "--profile-consumers",
        type=Path,
        metavar="FOLDER",
        help="record scoring, alerts and reporting with py-spy during phase 2 (collapsed stacks to "
        "FOLDER/<service>.txt; top lines in the JSON)",
    )
    parser.add_argument("--keep-data", action="store_true", help="keep the PostgreSQL data folder")
    parser.add_argument(
        "--service-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for the services, e.g. INTAKE_DATABASE_POOL_SIZE=20 (repeatable)",
    )
    args = parser.parse_args()
    if args.responses < 1 or args.concurrency < 1:
        parser.error("--responses and --concurrency must be at least 1")
    if any("=" not in pair for pair in args.service_env):
        parser.error("--service-env takes NAME=VALUE")
    return args


def main() -> int:
    args = parse_args()
    # The alerts phase's delivery settings, unless given on the command line.
    service_env = {} if args.skip_alerts else dict(ALERTS_SERVICE_ENV)
    service_env.update(pair.split("=", 1) for pair in args.service_env)
    # SIGTERM is handled as Ctrl-C (inside asyncio.run, by its SIGINT handler, which cancels the run
    # cleanly), so the finally below stops the stack either way.
    signal.signal(signal.SIGTERM, lambda _signum, _frame: signal.raise_signal(signal.SIGINT))
    root = REPO / ".devstack" / f"bench-{os.getpid()}"
    log_dir = root / "logs"
    root.mkdir(parents=True, exist_ok=True)
    say(f"bench folder {root}")
    infra: Infrastructure | None = None
    services: Services | None = None
    result: dict[str, Any] = {"responses": args.responses}
    code = 0
    try:
        say("starting PostgreSQL and the broker")
        infra = Infrastructure.start(root)
        where = "embedded" if infra.postgres else "from DATABASE_URL"
        say(f"database {where}, broker {infra.kafka_bootstrap}")
        services = Services(infra, log_dir)
        say("starting the four services")
        services.start(service_env)
        say("services ready")
        asyncio.run(run(args, infra, services, result))
        result["status"] = "ok"
    except (BenchFailed, StackError) as exc:
        code = 1 if isinstance(exc, BenchFailed) else 2
        result.update({"status": "failed", "error": str(exc)})
        say(f"FAILED: {exc}")
    except Exception as exc:  # noqa: BLE001 - still stop the stack and print what is known
        code = 1
        result.update({"status": "failed", "error": f"{type(exc).__name__}: {exc}"})
        say("FAILED with an unexpected error:")
        traceback.print_exc()
    except KeyboardInterrupt:
        code = 130
        result.update({"status": "interrupted"})
        say("interrupted; stopping everything")
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip the clean-up
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if services is not None:
            say("stopping the services")
            services.stop()
        if infra is not None:
            say("stopping the broker and PostgreSQL")
            infra.stop()
            if infra.postgres and not args.keep_data:
                shutil.rmtree(infra.postgres.data, ignore_errors=True)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    result["broker"] = "tansu (embedded)" if infra and infra.tansu else (infra.kafka_bootstrap if infra else None)
    result["database"] = "postgresql (embedded)" if infra and infra.postgres else "DATABASE_URL"
    result["machine"] = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }
    result["service_env"] = service_env
    result["load_generator"] = {"client": args.client, "concurrency": args.concurrency}
    result["bench_dir"] = str(root)
    if log_dir.exists():
        result["service_log_problems"] = log_problems(log_dir)
    document = json.dumps(result, indent=2)
    print(document)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(document + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
