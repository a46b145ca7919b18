"""``wellpulse-dev run``: the whole stack on this machine, the demo loaded, until Ctrl-C.
``wellpulse-dev demo``: load the demo into a stack that is already running (e.g. docker compose).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import sys
import time
from pathlib import Path
from types import FrameType

import httpx

from wellpulse.devstack.demo import ROOT, STRAINED_TEAM, load_demo
from wellpulse.devstack.embedded import StackError
from wellpulse.devstack.stack import Infrastructure, Services

PROJECT = Path(__file__).resolve().parents[5]


def main() -> None:
    parser = argparse.ArgumentParser(prog="wellpulse-dev", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="start PostgreSQL, Tansu and the four services; load the demo")
    run.add_argument("--no-demo", action="store_true", help="start empty")
    run.add_argument("--weeks", type=int, default=6, help="weeks of demo responses (default 6)")
    run.add_argument("--folder", type=Path, default=PROJECT / ".devstack" / "run", help="data and logs")
    run.add_argument("--any-ports", action="store_true", help="free ports instead of 8001-8004")
    demo = commands.add_parser("demo", help="load the demo into a running stack")
    demo.add_argument("--intake", default="http://127.0.0.1:8001")
    demo.add_argument("--reporting", default="http://127.0.0.1:8004")
    demo.add_argument("--alerts", default="http://127.0.0.1:8003")
    demo.add_argument("--weeks", type=int, default=6)
    args = parser.parse_args()
    try:
        if args.command == "run":
            run_stack(args.folder, demo=not args.no_demo, weeks=args.weeks, fixed_ports=not args.any_ports)
        else:
            urls = {"pulse-intake": args.intake, "reporting": args.reporting, "alerts": args.alerts}
            open_link = load_and_wait(urls, args.weeks)
            print(f"Answer this week's pulse as a member of staff (the link works once):\n  {open_link}")
    except StackError as exc:
        sys.exit(f"wellpulse-dev: {exc}")


def run_stack(folder: Path, *, demo: bool, weeks: int, fixed_ports: bool) -> None:
    # Tansu keeps nothing once stopped, so the database starts afresh too: the two agree.
    shutil.rmtree(folder, ignore_errors=True)
    # Explicit: a process started in the background may inherit an ignored SIGINT.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    print("Starting PostgreSQL and the broker...", flush=True)
    infrastructure = Infrastructure.start(folder)
    services = Services(infrastructure, folder / "logs", fixed_ports=fixed_ports)
    try:
        print(f"  database {infrastructure.database_url}\n  kafka    {infrastructure.kafka_bootstrap}")
        print("Starting pulse-intake, scoring, alerts and reporting...", flush=True)
        services.start({"INTAKE_ORGANISATION_NAME": "Northshire Council (demo)"} if demo else None)
        urls = {name: services.url(name) for name in services.processes}
        open_link = load_and_wait(urls, weeks) if demo else None
        _print_urls(urls, folder, open_link)
        while True:
            for name, process in services.processes.items():
                if process.process and process.process.poll() is not None:
                    raise StackError(f"{name} stopped unexpectedly; see {folder / 'logs' / name}.log")
            time.sleep(1)
    except KeyboardInterrupt:
        print("\nStopping...", flush=True)
    finally:
        # A second Ctrl-C must not cut the clean-up short and leave processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        services.stop()
        infrastructure.stop()
        print("Everything this command started has stopped.", flush=True)


def load_and_wait(urls: dict[str, str], weeks: int, timeout: float = 180.0) -> str:
    print(f"Loading the demo organisation and {weeks} weeks of responses...", flush=True)
    loaded = asyncio.run(load_demo(urls["pulse-intake"], weeks=weeks))
    print(
        f"  {loaded.units} units, {loaded.people} people on the roster, {loaded.responses} responses "
        f"through their one-time links for {loaded.weeks[0]}..{loaded.weeks[-1]}"
    )
    deadline = time.monotonic() + timeout
    trend_url = f"{urls['reporting']}/v1/units/{ROOT}/trends?weeks={weeks}"
    while time.monotonic() < deadline:
        trend = httpx.get(trend_url, timeout=5.0)
        alerts = httpx.get(f"{urls['alerts']}/v1/alerts", timeout=5.0)
        counted = sum(w["respondents"] or 0 for w in trend.json()["weeks"]) if trend.status_code == 200 else 0
        if counted >= loaded.responses and alerts.status_code == 200 and alerts.json():
            print(f"  reporting has counted all {counted}; alerts raised: {len(alerts.json())}")
            return loaded.open_link
        time.sleep(0.5)
    raise StackError("the demo responses did not reach reporting and alerts in time; see the logs")


def _print_urls(urls: dict[str, str], folder: Path, open_link: str | None) -> None:
    intake, reporting, alerts = urls["pulse-intake"], urls["reporting"], urls["alerts"]
    if open_link:
        print(f"\nAnswer this week's pulse as a member of staff (the link works once):\n  {open_link}")
    print(
        f"""
WellPulse is running. Open:
  Trend for the whole organisation  {reporting}/v1/units/{ROOT}/trends
  Trend for a team under strain     {reporting}/v1/units/{STRAINED_TEAM}/trends
  Alerts for HR                     {alerts}/v1/alerts
  API docs (OpenAPI)                {intake}/docs  {reporting}/docs  {alerts}/docs
  Event contracts (AsyncAPI)        {intake}/asyncapi.json (and on every service)
  Metrics (Prometheus)              {urls["scoring"]}/metrics (and on every service)
  Logs                              {folder / "logs"}
Press Ctrl-C to stop everything.""",
        flush=True,
    )


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt
