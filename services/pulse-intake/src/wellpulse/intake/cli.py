"""``wellpulse-intake serve`` / ``migrate``, and admin commands that drive a running intake's API:
``import-org FILE``, ``import-roster FILE``, ``open-round``, ``issue-links``, ``close-round``.

The admin commands send an admin's bearer token from ``$WELLPULSE_TOKEN`` or ``--token``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import httpx

from wellpulse.common.service import run_cli
from wellpulse.intake.app import MIGRATIONS, build
from wellpulse.intake.settings import IntakeSettings
from wellpulse.intake.store import SCHEMA

MEDIA_TYPES = {".csv": "text/csv", ".json": "application/json"}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] not in ("serve", "migrate", "-h", "--help"):
        sys.exit(admin(sys.argv[1:]))
    run_cli("pulse-intake", IntakeSettings, build, schema=SCHEMA, migrations=MIGRATIONS)


def admin(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="wellpulse-intake", description=__doc__)
    parser.add_argument(
        "--url",
        default=os.environ.get("WELLPULSE_INTAKE_URL", "http://127.0.0.1:8001"),
        help="the intake service (default $WELLPULSE_INTAKE_URL or http://127.0.0.1:8001)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("WELLPULSE_TOKEN"),
        help="an admin's bearer token from your identity provider (default $WELLPULSE_TOKEN)",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    for name in ("import-org", "import-roster"):
        command = commands.add_parser(name, help=f"{name.replace('-', ' ')} from a .csv or .json file")
        command.add_argument("file", type=Path)
    week = commands.add_parser("open-round", help="open the round for an ISO week")
    week.add_argument("--week", help="e.g. 2026-W48 (default: this week)")
    links = commands.add_parser("issue-links", help="mint one link per roster entry")
    links.add_argument("pulse_id")
    links.add_argument("--delivery", choices=["email", "csv"], required=True)
    links.add_argument("--out", type=Path, help="with csv: write here (default: standard output)")
    links.add_argument("--email", action="append", dest="emails", help="only this roster address")
    close = commands.add_parser("close-round", help="close a round; its links stop working")
    close.add_argument("pulse_id")
    args = parser.parse_args(argv)
    if not args.token:
        print(NO_CREDENTIALS, file=sys.stderr)
        return 2

    with httpx.Client(base_url=args.url, timeout=600.0, headers={"Authorization": f"Bearer {args.token}"}) as client:
        if args.command in ("import-org", "import-roster"):
            path: Path = args.file
            media_type = MEDIA_TYPES.get(path.suffix.lower())
            if media_type is None:
                parser.error(f"{path}: use a .csv or .json file")
            endpoint = "/v1/admin/org-units" if args.command == "import-org" else "/v1/admin/roster"
            answer = client.put(endpoint, content=path.read_bytes(), headers={"Content-Type": media_type})
        elif args.command == "open-round":
            answer = client.post("/v1/admin/rounds", json={"iso_week": args.week} if args.week else {})
        elif args.command == "issue-links":
            body = {"delivery": args.delivery, "emails": args.emails}
            answer = client.post(f"/v1/admin/rounds/{args.pulse_id}/links", json=body)
            if answer.status_code == 200 and args.delivery == "csv":
                if args.out:
                    args.out.write_text(answer.text)
                    print(f"links written to {args.out}; delete the file once the mail merge is done")
                else:
                    print(answer.text, end="")
                return 0
        else:
            answer = client.post(f"/v1/admin/rounds/{args.pulse_id}/close")
    return _report(answer)


NO_CREDENTIALS = """wellpulse-intake: no token. The admin commands need an admin's bearer token:
  export WELLPULSE_TOKEN=<a token with the admin role from your identity provider>
or pass --token. On the development stack (make run):
  export WELLPULSE_TOKEN=$(.venv/bin/wellpulse-dev token --role admin)"""


def _report(answer: httpx.Response) -> int:
    try:
        body = answer.json()
    except ValueError:
        body = {"title": f"HTTP {answer.status_code}", "detail": answer.text[:500]}
    if answer.is_success:
        print(_plain(body))
        return 0
    print(f"{body.get('title', answer.status_code)}: {body.get('detail', '')}", file=sys.stderr)
    if answer.status_code == 401:
        print(
            "  The intake refused the token. Get a fresh one (they expire) and set WELLPULSE_TOKEN; "
            "check it was issued for this service's audience and by the issuer it trusts.",
            file=sys.stderr,
        )
    elif answer.status_code == 403:
        print("  The token is valid but lacks the admin role: ask for a token with the admin role.", file=sys.stderr)
    for error in body.get("errors", []) if isinstance(body.get("errors"), list) else []:
        print(f"  line {error['line']}, {error['column']}: {error['reason']}", file=sys.stderr)
    return 1


def _plain(body: object) -> str:
    if isinstance(body, dict):
        return "\n".join(f"{k}: {v}" for k, v in body.items() if k != "items")
    return str(body)
