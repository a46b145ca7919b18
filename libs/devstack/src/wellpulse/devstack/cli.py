"""``wellpulse-dev run``: the whole stack on this machine, the demo loaded, until Ctrl-C.
``wellpulse-dev token``: a signed token from the development issuer, for calling the APIs.
``wellpulse-dev demo``: load the demo into a stack that is already running (e.g. docker compose).
``wellpulse-dev issuer``: the development issuer alone (docker compose runs it this way).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import httpx

from wellpulse.devstack.demo import ROOT, STRAINED_TEAM, load_contacts, load_demo
from wellpulse.devstack.embedded import StackError
from wellpulse.devstack.issuer import ROLES, DevIssuer, parse_ttl, sign
from wellpulse.devstack.ports import refuse_taken_service_ports
from wellpulse.devstack.receivers import MailSink, WebhookReceiver
from wellpulse.devstack.stack import Infrastructure, Services

PROJECT = Path(__file__).resolve().parents[5]
DEFAULT_FOLDER = PROJECT / ".devstack" / "run"


def main() -> None:
    parser = argparse.ArgumentParser(prog="wellpulse-dev", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="start PostgreSQL, Tansu, the issuer and the four services; load the demo")
    run.add_argument("--no-demo", action="store_true", help="start empty")
    run.add_argument("--weeks", type=int, default=6, help="weeks of demo responses (default 6)")
    run.add_argument("--folder", type=Path, default=DEFAULT_FOLDER, help="data and logs")
    run.add_argument("--any-ports", action="store_true", help="free ports instead of 8001-8004")

    token = commands.add_parser("token", help="print a token signed by the development issuer")
    token.add_argument("--role", action="append", choices=ROLES, required=True, help="repeat for several roles")
    token.add_argument("--unit", action="append", default=[], help="a unit (and its subtree) in scope; repeatable")
    token.add_argument("--ttl", default="8h", help="how long it is valid: 90s, 15m, 8h, 2d (default 8h)")
    token.add_argument("--subject", help="the `sub` claim (default dev-<roles>)")
    token.add_argument(
        "--folder",
        type=Path,
        default=Path(os.environ.get("WELLPULSE_DEV_FOLDER", DEFAULT_FOLDER)),
        help="the running stack's folder, or the issuer's own (default $WELLPULSE_DEV_FOLDER or .devstack/run)",
    )

    demo = commands.add_parser("demo", help="load the demo into a running stack")
    demo.add_argument("--intake", default="http://127.0.0.1:8001")
    demo.add_argument("--reporting", default="http://127.0.0.1:8004")
    demo.add_argument("--alerts", default="http://127.0.0.1:8003")
    demo.add_argument("--weeks", type=int, default=6)
    demo.add_argument(
        "--token",
        default=os.environ.get("WELLPULSE_TOKEN"),
        help=f"a token with the admin, hr and leader roles for unit {ROOT} (default $WELLPULSE_TOKEN)",
    )

    issuer = commands.add_parser("issuer", help="run the development issuer alone (ENVIRONMENT=development)")
    issuer.add_argument("--folder", type=Path, required=True, help="where its keys are kept")
    issuer.add_argument("--host", default="127.0.0.1")
    issuer.add_argument("--port", type=int, default=8005)
    issuer.add_argument("--url", help="the issuer URL the services reach it at (default http://host:port)")
    issuer.add_argument("--browser-url", help="where browsers reach it, when not at --url (its sign-in page)")
    issuer.add_argument("--client", help="a client id that may sign people in (the reporting dashboard's)")
    issuer.add_argument("--client-secret", help="that client's secret (none: a public client, PKCE only)")
    issuer.add_argument("--redirect-uri", action="append", default=[], help="that client's redirect URI; repeatable")
    args = parser.parse_args()
    try:
        if args.command == "run":
            run_stack(args.folder, demo=not args.no_demo, weeks=args.weeks, fixed_ports=not args.any_ports)
        elif args.command == "token":
            print(mint_token(args.folder, args.role, args.unit, args.ttl, args.subject))
        elif args.command == "issuer":
            client = (args.client, args.redirect_uri, args.client_secret) if args.client else None
            serve_issuer(args.folder, args.host, args.port, args.url, browser_url=args.browser_url, client=client)
        else:
            if not args.token:
                parser.error(f"give a token with --token or $WELLPULSE_TOKEN (roles admin, hr and leader; unit {ROOT})")
            urls = {"pulse-intake": args.intake, "reporting": args.reporting, "alerts": args.alerts}
            open_link = load_and_wait(urls, args.weeks, Tokens(args.token, args.token, args.token))
            print("Add HR contacts for deliveries with PUT /v1/admin/contacts on the alerts service.")
            print(f"Answer this week's pulse as a member of staff (the link works once):\n  {open_link}")
    except StackError as exc:
        sys.exit(f"wellpulse-dev: {exc}")


def mint_token(folder: Path, roles: list[str], units: list[str], ttl: str, subject: str | None) -> str:
    try:
        seconds = parse_ttl(ttl)
    except ValueError as exc:
        raise StackError(str(exc)) from None
    if not units and any(role != "admin" for role in roles):
        raise StackError(f"a leader or hr token needs --unit <id> (the demo's root is {ROOT})")
    return sign(_issuer_folder(folder), roles=roles, units=units, ttl_seconds=seconds, subject=subject)


def _issuer_folder(folder: Path) -> Path:
    """A stack's folder holds its issuer in ``issuer/``; an issuer's own folder holds ``issuer.json``."""
    return folder if (folder / "issuer.json").exists() else folder / "issuer"


def serve_issuer(
    folder: Path,
    host: str,
    port: int,
    url: str | None,
    *,
    browser_url: str | None = None,
    client: tuple[str, list[str], str | None] | None = None,
) -> None:
    issuer = DevIssuer(folder, environment=os.environ.get("ENVIRONMENT"), host=host, port=port)
    issuer.browser_url = browser_url
    if client is not None:
        client_id, redirect_uris, secret = client
        issuer.register_client(client_id, redirect_uris, secret)
    print(f"development issuer at {issuer.start(public_url=url)} (keys in {folder})", flush=True)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        issuer.stop()


@dataclass(frozen=True)
class Tokens:
    admin: str
    hr: str
    leader: str

    @classmethod
    def for_demo(cls, issuer_folder: Path) -> Tokens:
        return cls(
            admin=sign(issuer_folder, roles=["admin"]),
            hr=sign(issuer_folder, roles=["hr"], units=[ROOT]),
            leader=sign(issuer_folder, roles=["leader"], units=[ROOT]),
        )


# make run shows an alert of each family reaching HR.
FAMILIES = ("caseload", "bullying", "intent_to_leave")


def run_stack(folder: Path, *, demo: bool, weeks: int, fixed_ports: bool) -> None:
    if fixed_ports:
        refuse_taken_service_ports()  # before anything starts (or the folder of a running stack is wiped)
    # Tansu keeps nothing once stopped, so the database starts afresh too: the two agree.
    shutil.rmtree(folder, ignore_errors=True)
    # Explicit: a process started in the background may inherit an ignored SIGINT.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    print("Starting PostgreSQL, the broker and the development issuer...", flush=True)
    infrastructure = Infrastructure.start(folder)
    if demo:
        infrastructure.issuer.suggested_units = ROOT
    # HR's systems, played locally: a mailbox and a webhook receiver that checks every signature.
    mail, webhooks = MailSink(folder / "mail"), WebhookReceiver()
    mail.start()
    webhooks.start()
    services = Services(infrastructure, folder / "logs", fixed_ports=fixed_ports)
    try:
        print(
            f"  database {infrastructure.database_url}\n  kafka    {infrastructure.kafka_bootstrap}\n"
            f"  issuer   {infrastructure.issuer.url}"
        )
        print("Starting pulse-intake, scoring, alerts and reporting...", flush=True)
        env = {
            "ALERTS_SMTP_HOST": "127.0.0.1",
            "ALERTS_SMTP_PORT": str(mail.port),
            "ALERTS_SMTP_STARTTLS": "false",
            "ALERTS_DELIVERY_INTERVAL_SECONDS": "1",
        }
        if demo:
            env |= {"INTAKE_ORGANISATION_NAME": DEMO_NAME, "ALERTS_ORGANISATION_NAME": DEMO_NAME}
        services.start(env)
        urls = {name: services.url(name) for name in services.processes}
        tokens = Tokens.for_demo(infrastructure.issuer.folder)
        open_link = None
        if demo:
            asyncio.run(
                load_contacts(
                    urls["alerts"],
                    tokens.admin,
                    email="hr-wellbeing@northshire.example",
                    webhook_url=webhooks.url,
                    secret=webhooks.secret,
                )
            )
            open_link = load_and_wait(urls, weeks, tokens, families=FAMILIES)
            _wait_for_deliveries(urls, tokens, mail, webhooks)
        _print_urls(urls, folder, open_link, tokens, mail=mail, webhooks=webhooks)
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
        webhooks.stop()
        mail.stop()
        infrastructure.stop()
        print("Everything this command started has stopped.", flush=True)


DEMO_NAME = "Northshire Council (demo)"


def load_and_wait(
    urls: dict[str, str], weeks: int, tokens: Tokens, families: tuple[str, ...] = (), timeout: float = 180.0
) -> str:
    print(f"Loading the demo organisation and {weeks} weeks of responses...", flush=True)
    loaded = asyncio.run(load_demo(urls["pulse-intake"], tokens.admin, weeks=weeks))
    print(
        f"  {loaded.units} units, {loaded.people} people on the roster, {loaded.responses} responses "
        f"through their one-time links for {loaded.weeks[0]}..{loaded.weeks[-1]}"
    )
    deadline = time.monotonic() + timeout
    trend_url = f"{urls['reporting']}/v1/units/{ROOT}/trends?weeks={weeks}"
    while time.monotonic() < deadline:
        trend = httpx.get(trend_url, headers=_bearer(tokens.leader), timeout=5.0)
        alerts = httpx.get(f"{urls['alerts']}/v1/alerts", headers=_bearer(tokens.hr), timeout=5.0)
        if trend.status_code in (401, 403) or alerts.status_code in (401, 403):
            raise StackError(f"the services refused the demo's tokens: {trend.text} {alerts.text}")
        counted = sum(w["respondents"] or 0 for w in trend.json()["weeks"]) if trend.status_code == 200 else 0
        raised = {a["family"] for a in alerts.json()} if alerts.status_code == 200 else set()
        if counted >= loaded.responses and raised and set(families) <= raised:
            kinds = ", ".join(sorted(raised))
            print(f"  reporting has counted all {counted}; alerts raised: {len(alerts.json())} ({kinds})")
            return loaded.open_link
        time.sleep(0.5)
    raise StackError("the demo responses did not reach reporting and alerts in time; see the logs")


def _wait_for_deliveries(
    urls: dict[str, str], tokens: Tokens, mail: MailSink, webhooks: WebhookReceiver, timeout: float = 60.0
) -> None:
    alerts = httpx.get(f"{urls['alerts']}/v1/alerts", headers=_bearer(tokens.hr), timeout=5.0).json()
    try:
        mail.wait_for(len(alerts), within=timeout)
        webhooks.wait_for(len(alerts), within=timeout)
    except TimeoutError as exc:
        raise StackError(f"the demo's alerts did not all reach HR in time: {exc}") from None
    print(f"  delivered to HR: {len(mail.received)} emails, {len(webhooks.by_id)} signed webhooks")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _print_urls(
    urls: dict[str, str],
    folder: Path,
    open_link: str | None,
    tokens: Tokens,
    *,
    mail: MailSink,
    webhooks: WebhookReceiver,
) -> None:
    intake, reporting, alerts = urls["pulse-intake"], urls["reporting"], urls["alerts"]
    if open_link:
        print(f"\nAnswer this week's pulse as a member of staff (the link works once):\n  {open_link}")
    print(
        f"""
WellPulse is running. Everything but the staff form needs a bearer token; these are valid for 8 hours,
the hr and leader ones scoped to the whole organisation ({ROOT}):
  export ADMIN_TOKEN={tokens.admin}
  export HR_TOKEN={tokens.hr}
  export LEADER_TOKEN={tokens.leader}
  (more: .venv/bin/wellpulse-dev token --role leader --unit <unit id> [--folder {folder}])
Then, for example:
  curl -H "Authorization: Bearer $LEADER_TOKEN" {reporting}/v1/units/{ROOT}/trends
Open:
  Dashboard for leaders and HR      {reporting}/dashboard/
    (the development issuer's sign-in page asks who to be: a leader of {ROOT} sees the whole demo council,
     a leader of {STRAINED_TEAM} one team; choosing admin shows the dashboard's refusal)
  Trend for the whole organisation  {reporting}/v1/units/{ROOT}/trends
  Trend for a team under strain     {reporting}/v1/units/{STRAINED_TEAM}/trends
  Alerts for HR (hr token)          {alerts}/v1/alerts
  Alert emails HR received          {folder / "mail"} (one .eml each)
  Webhook receiver (checks signatures) {webhooks.url}  ({len(webhooks.by_id)} alerts received so far)
  API docs (OpenAPI; "Authorize" takes a token)  {intake}/docs  {reporting}/docs  {alerts}/docs
  Event contracts (AsyncAPI)        {intake}/asyncapi.json (and on every service)
  Metrics (Prometheus)              {urls["scoring"]}/metrics (and on every service)
  Logs                              {folder / "logs"}
Press Ctrl-C to stop everything.""",
        flush=True,
    )


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt
