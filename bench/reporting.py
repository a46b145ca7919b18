"""Reporting read benchmark: a synthetic year of an organisation's answers loaded into reporting's
read model, then each endpoint timed over HTTP for the root, directorates and teams (see bench/README.md).

For each size: its own PostgreSQL (and Tansu, which the service needs to start), reporting's
migrations, the synthetic rollups loaded with COPY (``synthetic.py``), the real reporting process,
and a leader's token from the development issuer. Requests go one at a time (latency, not
throughput), warm, shuffled across endpoints, unit kinds, units and weeks.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import platform
import random
import shutil
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
import numpy as np
from measure import CpuMeter, percentile
from pipeline import log_problems
from plans import RUNNERS, explain_unit
from runtime import BenchFailed, say
from synthetic import (
    SCHEMA,
    SIZES,
    Org,
    Synthetic,
    check_fanout,
    check_headcounts,
    check_scoring,
    draw_org,
    load,
    synthesise,
    weeks_of,
)

from wellpulse.common.bank import load_bank
from wellpulse.common.events import iso_week_of
from wellpulse.common.migrations import apply_migrations
from wellpulse.devstack.embedded import StackError
from wellpulse.devstack.issuer import sign
from wellpulse.devstack.processes import SERVICES, ServiceProcess
from wellpulse.devstack.stack import Infrastructure, Services
from wellpulse.reporting.app import MIGRATIONS

REPO = Path(__file__).resolve().parent.parent
TARGET_P95_MS = 25.0  # at ~10 million responses, every endpoint
TARGET_RATIO = 1.5  # p95 at ~10 million / p95 at ~100 thousand
CHECK_UP_TO = 200_000  # responses: sizes up to this are checked against the real scoring and rebuild
KINDS = ("root", "directorate", "team")
UNITS_PER_KIND = {"root": 1, "directorate": 5, "team": 12}


def trends_summary(body: Any) -> dict[str, int]:
    weeks = body["weeks"]
    measures = [v for w in weeks for v in w["measures"].values()]
    return {
        "weeks": len(weeks),
        "weeks_suppressed": sum(1 for w in weeks if w["suppressed"]),
        "measures": len(measures),
        "measures_hidden": sum(1 for v in measures if v is None),
    }


def rows_summary(cells: str) -> Callable[[Any], dict[str, int]]:
    """For a window view (heatmap, changes): its rows, and its cells (``cells`` of each row) hidden."""

    def summary(body: Any) -> dict[str, int]:
        shown = [c for row in body["rows"] for c in row[cells].values()]
        return {
            "rows": len(body["rows"]),
            "cells": len(shown),
            "cells_suppressed": sum(1 for c in shown if c["suppressed"]),
        }

    return summary


def items_summary(body: Any) -> dict[str, int]:
    return {
        "items": len(body["items"]),
        "items_suppressed": sum(1 for i in body["items"] if i["suppressed"]),
        "distribution_responses": sum(sum((i["distribution"] or {}).values()) for i in body["items"]),
    }


def csv_summary(body: Any) -> dict[str, int]:
    lines = body.splitlines()
    return {"lines": len(lines) - 1, "lines_suppressed": sum(1 for line in lines if "suppressed" in line)}


@dataclass(frozen=True)
class Endpoint:
    """A path template and query parameters. Both may name ``{unit_id}``, ``{to_week}`` (a week
    that varies from request to request, with at least 12 weeks of data up to it), ``{last_week}``."""

    path: str
    params: Mapping[str, str] = field(default_factory=dict)
    summary: Callable[[Any], dict[str, int]] | None = None  # what the answer showed, summed per unit kind


# Every endpoint the bench times: one line each.
ENDPOINTS: dict[str, Endpoint] = {
    "trends": Endpoint("/v1/units/{unit_id}/trends", {"to_week": "{to_week}", "weeks": "12"}, trends_summary),
    "trends_52w": Endpoint("/v1/units/{unit_id}/trends", {"to_week": "{last_week}", "weeks": "52"}, trends_summary),
    "trends_csv": Endpoint(
        "/v1/units/{unit_id}/trends", {"to_week": "{to_week}", "weeks": "12", "format": "csv"}, csv_summary
    ),
    "heatmap": Endpoint("/v1/units/{unit_id}/heatmap", {"to_week": "{to_week}", "weeks": "4"}, rows_summary("cells")),
    "changes": Endpoint("/v1/units/{unit_id}/changes", {"to_week": "{to_week}", "weeks": "4"}, rows_summary("changes")),
    "items": Endpoint("/v1/units/{unit_id}/items", {"to_week": "{to_week}", "weeks": "4"}, items_summary),
    # The synthetic year raises no alerts: this times the read of an empty alerts table.
    "alerts": Endpoint("/v1/units/{unit_id}/alerts", {"to_week": "{to_week}", "weeks": "12"}),
}


@dataclass
class Request:
    endpoint: str
    kind: str
    unit: str
    target: str  # path and query


def chosen_units(org: Org, rng: random.Random) -> dict[str, list[str]]:
    """The units each kind is timed with; a third of the teams small (fewer than 7 people), so
    some of their weeks are suppressed, and their siblings' too."""
    units = {kind: [org.ids[i] for i in org.of_kind(kind)] for kind in KINDS}
    small_teams = [org.ids[i] for i in org.of_kind("team") if org.headcount[i] < 7]
    chosen = {kind: rng.sample(units[kind], min(UNITS_PER_KIND[kind], len(units[kind]))) for kind in KINDS}
    third = min(len(small_teams), UNITS_PER_KIND["team"] // 3)
    others = [t for t in chosen["team"] if t not in small_teams]
    chosen["team"] = rng.sample(small_teams, third) + others[: UNITS_PER_KIND["team"] - third]
    return chosen


def schedule(
    chosen: dict[str, list[str]], weeks: list[Any], args: argparse.Namespace, rng: random.Random
) -> dict[str, list[Request]]:
    """Warm-up and measured requests, each list shuffled across endpoints, unit kinds, units and weeks."""
    windows = [iso_week_of(w) for w in weeks[11:]]
    plan: dict[str, list[Request]] = {"warmup": [], "measured": []}
    for phase, count in (("warmup", args.warmup), ("measured", args.requests)):
        for name, endpoint in ENDPOINTS.items():
            for kind in KINDS:
                for i in range(count):
                    unit = chosen[kind][i % len(chosen[kind])]
                    values = {"unit_id": unit, "to_week": rng.choice(windows), "last_week": iso_week_of(weeks[-1])}
                    path = endpoint.path.format(**values)
                    query = urlencode({k: v.format(**values) for k, v in endpoint.params.items()})
                    plan[phase].append(Request(name, kind, unit, f"{path}?{query}" if query else path))
        rng.shuffle(plan[phase])
    return plan


def run_requests(url: str, token: str, requests: list[Request]) -> list[tuple[Request, float, int, Any]]:
    """One at a time on one keep-alive connection: (request, seconds, status, parsed body)."""
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    done = []
    try:
        for request in requests:
            started = time.perf_counter()
            conn.request("GET", request.target, headers=headers)
            reply = conn.getresponse()
            body = reply.read()
            elapsed = time.perf_counter() - started
            if reply.status != 200:
                answer: Any = body[:300]
            elif (reply.getheader("content-type") or "").startswith("application/json"):
                answer = json.loads(body)
            else:
                answer = body.decode()
            done.append((request, elapsed, reply.status, answer))
    finally:
        conn.close()
    return done


def figures(
    done: list[tuple[Request, float, int, Any]], spent: Mapping[tuple[str, str], Mapping[str, float]]
) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name, endpoint in ENDPOINTS.items():
        out[name] = {}
        for kind in KINDS:
            mine = [d for d in done if d[0].endpoint == name and d[0].kind == kind]
            ok = [d for d in mine if d[2] == 200]
            times = [d[1] for d in ok]
            statuses: dict[str, int] = {}
            for d in mine:
                statuses[str(d[2])] = statuses.get(str(d[2]), 0) + 1
            shown: dict[str, int] = {}
            if endpoint.summary is not None:
                for d in ok:
                    for key, value in endpoint.summary(d[3]).items():
                        shown[key] = shown.get(key, 0) + value
            out[name][kind] = {
                "units": len({d[0].unit for d in mine}),
                "requests": len(mine),
                "statuses": statuses,
                **{f"{q}_ms": _ms(percentile(times, p)) for q, p in (("p50", 50), ("p95", 95), ("p99", 99))},
                "max_ms": _ms(max(times, default=None)),
                # CPU per request, over the block: the service's, and PostgreSQL's (all backends).
                "cpu_ms_per_request": {
                    part: round(1000 * spent.get((name, kind), {}).get(part, 0.0) / len(mine), 2) if mine else None
                    for part in ("reporting", "postgres")
                },
                "answers": shown,
                "first_error": next((str(d[3]) for d in mine if d[2] != 200), None),
            }
    return out


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def org_facts(org: Org) -> dict[str, Any]:
    teams = org.of_kind("team")
    return {
        "people": int(org.headcount.sum()),
        "units": len(org.ids),
        **{f"{kind}s": len(org.of_kind(kind)) for kind in ("directorate", "service", "team")},
        "teams_under_5_people": sum(1 for t in teams if org.headcount[t] < 5),
        "depth": int(org.depth.max()) + 1,
        "widest_unit_children": int(np.bincount(org.parent[org.parent >= 0]).max()),
    }


def reused(args: argparse.Namespace, size: str, marker: Path) -> tuple[Org, list[Any], dict[str, Any]] | None:
    """The tree and facts of a database kept by ``--keep-data`` for this size and seed, if any."""
    if not (args.reuse_data and marker.exists()):
        return None
    facts = json.loads(marker.read_text())
    if facts.get("seed") != args.seed or facts.get("size") != size:
        return None
    say(f"{size}: reusing the database loaded {facts['loaded_at']}")
    return draw_org(SIZES[size], np.random.default_rng(args.seed)), weeks_of(SIZES[size]), {**facts, "reused": True}


async def prepare(args: argparse.Namespace, size: str, infra: Infrastructure) -> tuple[Org, list[Any], dict[str, Any]]:
    """The read model drawn, loaded and (on small sizes) checked against the real code."""
    bank = load_bank()
    say(f"{size}: applying reporting's migrations")
    await asyncio.to_thread(apply_migrations, infra.database_url, SCHEMA, MIGRATIONS)
    checking = SIZES[size].people * SIZES[size].weeks <= CHECK_UP_TO
    started = time.monotonic()
    data: Synthetic = await asyncio.to_thread(synthesise, SIZES[size], bank, args.seed, checking)
    drawn_s = round(time.monotonic() - started, 1)
    say(f"{size}: drew {data.responses} responses in {drawn_s} s; loading")
    facts: dict[str, Any] = {
        "size": size,
        "seed": args.seed,
        "org": org_facts(data.org),
        "weeks": len(data.weeks),
        "responses": data.responses,
        "rows": {
            "own_rollups": data.own.rows(),
            "subtree_rollups": data.subtree.rows(),
            "applied_events": data.responses,
        },
    }
    conn = await asyncpg.connect(infra.database_url, timeout=30)
    try:
        started = time.monotonic()
        steps = await load(conn, data)
        facts["load_s"] = {"draw_and_score": drawn_s, **steps, "total": round(drawn_s + time.monotonic() - started, 1)}
        if checking:
            say(f"{size}: checking the data against scoring and SubtreeRollups.rebuild")
            facts["checks"] = {
                "scoring": await asyncio.to_thread(check_scoring, data, bank),
                "fanout": await check_fanout(conn, data),
            }
        facts.setdefault("checks", {})["subtree_headcounts"] = await check_headcounts(conn, data.org)
        if any(check["mismatches"] for check in facts["checks"].values()):
            raise BenchFailed(f"the synthetic data disagrees with the real code: {facts['checks']}")
        facts["database_mb"] = round(await conn.fetchval("SELECT pg_database_size(current_database())") / 2**20)
    finally:
        await conn.close()
    facts["loaded_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return data.org, data.weeks, facts


async def explain(infra: Infrastructure, chosen: dict[str, list[str]], weeks: list[Any]) -> dict[str, Any]:
    conn = await asyncpg.connect(infra.database_url, timeout=30)
    try:
        return {
            endpoint: {
                kind: await explain_unit(conn, endpoint, units[0], iso_week_of(weeks[-1]))
                for kind, units in chosen.items()
            }
            for endpoint in RUNNERS
        }
    finally:
        await conn.close()


def measure_size(args: argparse.Namespace, size: str, root: Path, service_env: dict[str, str]) -> dict[str, Any]:
    infra = Infrastructure.start(root)
    services = Services(infra, root / "logs")
    result: dict[str, Any] = {}
    try:
        marker = root / "loaded.json"
        prepared = reused(args, size, marker)
        if prepared is None:
            prepared = asyncio.run(prepare(args, size, infra))
            marker.write_text(json.dumps(prepared[2], indent=2))
        org, weeks, facts = prepared
        result.update(facts)
        if args.explain:
            say(f"{size}: EXPLAIN ANALYZE of each statement, generic and custom plans")
            result["plans"] = asyncio.run(explain(infra, chosen_units(org, random.Random(args.seed)), weeks))
        spec = next(s for s in SERVICES if s.name == "reporting")
        env = {
            **infra.service_env(spec.env_prefix),
            f"{spec.env_prefix}KAFKA_GROUP_INSTANCE_ID": f"bench-reporting-{socket.gethostname()}-{os.getpid()}",
            **service_env,
        }
        process = ServiceProcess(spec, env, services.log_dir)
        services.processes["reporting"] = process
        say(f"{size}: starting reporting")
        process.start()
        process.wait_ready(120.0)
        token = sign(infra.issuer.folder, roles=["leader"], units=["org"])
        rng = random.Random(args.seed)
        chosen = chosen_units(org, rng)
        plan = schedule(chosen, weeks, args, rng)
        say(f"{size}: {len(plan['warmup'])} warm-up requests, then {len(plan['measured'])} measured")
        run_requests(process.url, token, plan["warmup"])
        cpu = CpuMeter(infra, services)
        started = cpu.snapshot()
        # One block per endpoint and unit kind (its units and weeks shuffled), blocks in random
        # order, each with the CPU the service and PostgreSQL spent on it: a figure the other
        # work on a shared machine disturbs far less than the wall-clock latency.
        done, spent = [], {}
        blocks = sorted({(r.endpoint, r.kind) for r in plan["measured"]})
        rng.shuffle(blocks)
        for block in blocks:
            before = cpu.snapshot()
            done += run_requests(process.url, token, [r for r in plan["measured"] if (r.endpoint, r.kind) == block])
            spent[block] = cpu.since(before).get("cpu_s", {})
        result["cpu"] = cpu.since(started)
        result["endpoints"] = figures(done, spent)
        for name, kinds in result["endpoints"].items():
            say(
                f"{size}: {name}: "
                + ", ".join(f"{k} p50 {v['p50_ms']} / p95 {v['p95_ms']} ms" for k, v in kinds.items())
            )
    finally:
        services.stop()
        infra.stop()
        if (root / "logs").exists():
            result["service_log_problems"] = log_problems(root / "logs")
    return result


def verdicts(sizes: dict[str, Any]) -> list[dict[str, Any]]:
    """Each endpoint and unit kind against the targets (where both sizes ran)."""
    small, large = sizes.get("small", {}).get("endpoints"), sizes.get("large", {}).get("endpoints")
    rows = []
    for name in ENDPOINTS:
        for kind in KINDS:
            p95_small = small[name][kind]["p95_ms"] if small else None
            p95_large = large[name][kind]["p95_ms"] if large else None
            ratio = round(p95_large / p95_small, 2) if p95_small and p95_large else None
            rows.append(
                {
                    "endpoint": name,
                    "kind": kind,
                    "p95_ms_small": p95_small,
                    "p95_ms_large": p95_large,
                    "ratio": ratio,
                    "p95_large_ok": None if p95_large is None else p95_large <= TARGET_P95_MS,
                    "ratio_ok": None if ratio is None else ratio <= TARGET_RATIO,
                }
            )
    return rows


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="small,large",
        help=f"comma-separated, from {', '.join(f'{k} (~{v.people} people)' for k, v in SIZES.items())}; "
        "default small,large",
    )
    parser.add_argument("--requests", type=int, default=200, help="measured requests per endpoint and unit kind")
    parser.add_argument("--warmup", type=int, default=30, help="warm-up requests per endpoint and unit kind")
    parser.add_argument("--seed", type=int, default=8, help="the synthetic organisation and answers")
    parser.add_argument("--keep-data", action="store_true", help="keep each size's loaded database for --reuse-data")
    parser.add_argument(
        "--reuse-data", action="store_true", help="use a database kept by --keep-data (skips the load when it matches)"
    )
    parser.add_argument(
        "--no-explain", dest="explain", action="store_false", help="skip EXPLAIN of the statements behind each endpoint"
    )
    parser.add_argument("--json-out", type=Path, help="also write the JSON document here")
    parser.add_argument(
        "--service-env", action="append", default=[], metavar="NAME=VALUE", help="extra environment for reporting"
    )
    args = parser.parse_args()
    args.sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    if unknown := [s for s in args.sizes if s not in SIZES]:
        parser.error(f"unknown size {', '.join(unknown)}: use {', '.join(SIZES)}")
    if args.requests < 1 or args.warmup < 0:
        parser.error("--requests must be at least 1 and --warmup at least 0")
    if any("=" not in pair for pair in args.service_env):
        parser.error("--service-env takes NAME=VALUE")
    return args


def _interrupted(_signum: int, _frame: Any) -> None:
    # Raised here rather than by re-raising SIGINT: a script started in the background by a
    # non-interactive shell has SIGINT ignored, and would then never stop on SIGTERM.
    raise KeyboardInterrupt


def main() -> int:
    args = parse_args()
    service_env = dict(pair.split("=", 1) for pair in args.service_env)
    signal.signal(signal.SIGTERM, _interrupted)
    result: dict[str, Any] = {
        "sizes": {},
        "endpoints": {n: {"path": e.path, "params": dict(e.params)} for n, e in ENDPOINTS.items()},
    }
    code = 0
    for size in args.sizes:
        keep = args.keep_data or args.reuse_data
        root = REPO / ".devstack" / (f"bench-reporting-{size}" if keep else f"bench-reporting-{size}-{os.getpid()}")
        if not args.reuse_data and (root / "loaded.json").exists():
            shutil.rmtree(root, ignore_errors=True)  # --keep-data without --reuse-data: load afresh
        root.mkdir(parents=True, exist_ok=True)
        say(f"{size}: folder {root}")
        started = time.monotonic()
        try:
            result["sizes"][size] = measure_size(args, size, root, service_env)
            result["sizes"][size]["wall_s"] = round(time.monotonic() - started, 1)
        except (BenchFailed, StackError) as exc:
            code = 1 if isinstance(exc, BenchFailed) else 2
            result["sizes"][size] = {"status": "failed", "error": str(exc)}
            say(f"FAILED: {exc}")
        except Exception as exc:  # noqa: BLE001 - still report what is known
            code = 1
            result["sizes"][size] = {"status": "failed", "error": f"{type(exc).__name__}: {exc}"}
            traceback.print_exc()
        except KeyboardInterrupt:
            result["sizes"][size] = {"status": "interrupted"}
            code = 130
        finally:
            if not keep:
                shutil.rmtree(root, ignore_errors=True)
        if code:
            break
    result["targets"] = {
        "p95_ms_large": TARGET_P95_MS,
        "ratio_large_to_small": TARGET_RATIO,
        "verdicts": verdicts(result["sizes"]),
    }
    result["status"] = "ok" if code == 0 else "failed"
    result["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}
    result["service_env"] = service_env
    document = json.dumps(result, indent=2)
    print(document)
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(document + "\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
