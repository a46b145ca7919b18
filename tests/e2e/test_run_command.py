"""The README's run command: the whole stack comes up with the demo and prints tokens, the README's
own commands for calling the APIs work against it, and Ctrl-C stops everything it started."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

WELLPULSE_DEV = Path(sys.executable).parent / "wellpulse-dev"
PROJECT = Path(__file__).resolve().parents[2]
# The fixed ports the README's commands name, and the service each one is.
README_PORTS = {8001: "pulse-intake", 8003: "alerts", 8004: "reporting"}


def _readme_commands() -> str:
    readme = (PROJECT / "README.md").read_text()
    block = re.search(r"<!-- calling-the-apis -->\s*```sh\n(.*?)```\s*<!-- /calling-the-apis -->", readme, re.S)
    assert block, "the README has no block of commands for calling the APIs"
    return block.group(1)


def test_run_brings_up_the_demo_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")}
    log = tmp_path / "run.log"
    folder = tmp_path / "stack"
    with log.open("w") as out:
        run = subprocess.Popen(
            [str(WELLPULSE_DEV), "run", "--any-ports", "--weeks", "3", "--folder", str(folder)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + 240
        while "Press Ctrl-C" not in log.read_text():
            if run.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the stack did not come up:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        printed = log.read_text()
        trend_url = re.search(r"Trend for a team under strain\s+(\S+)", printed)
        form_url = re.search(r"(http://\S+/p/[A-Za-z0-9_-]{43})", printed)
        tokens = dict(re.findall(r"export (ADMIN|HR|LEADER)_TOKEN=(\S+)", printed))
        assert trend_url, printed
        assert form_url, printed
        assert set(tokens) == {"ADMIN", "HR", "LEADER"}, printed
        # Everything it started listens on a loopback port it printed: database, broker, issuer, services.
        ports = sorted({int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", printed)})
        assert len(ports) >= 7, printed

        assert httpx.get(f"{trend_url.group(1)}?weeks=3").status_code == 401
        trend = httpx.get(f"{trend_url.group(1)}?weeks=3", headers={"Authorization": f"Bearer {tokens['LEADER']}"})
        assert trend.status_code == 200, trend.text
        shown = [w for w in trend.json()["weeks"] if not w["suppressed"]]
        assert shown, "the demo team's trend shows at least one week"
        for week in shown:
            assert week["respondents"] >= trend.json()["min_group_size"]
            assert any(m.startswith("scale:") and f for m, f in week["measures"].items())
        assert httpx.get(form_url.group(1)).status_code == 200
        dashboard = re.search(r"Dashboard for leaders and HR\s+(\S+)", printed)
        assert dashboard, printed
        sign_in = httpx.get(dashboard.group(1), follow_redirects=True)
        assert sign_in.status_code == 200, "the dashboard sends a browser to the development issuer's sign-in"
        assert "/authorize" in str(sign_in.url)
        assert 'name="units" value="northshire"' in sign_in.text, "the demo's root is suggested"

        _run_the_readme_commands(printed, folder, env)
    finally:
        run.send_signal(signal.SIGINT)
        run.wait(60)
    assert "Everything this command started has stopped." in log.read_text()
    assert [port for port in ports if _listening(port)] == []


def _run_the_readme_commands(printed: str, folder: Path, env: dict[str, str]) -> None:
    """The README's commands, as written, with only the fixed ports swapped for the ones printed."""
    urls = {
        "pulse-intake": re.search(r"(http://127\.0\.0\.1:\d+)/docs", printed),
        "reporting": re.search(r"Trend for the whole organisation\s+(http://127\.0\.0\.1:\d+)", printed),
        "alerts": re.search(r"Alerts for HR \(hr token\)\s+(http://127\.0\.0\.1:\d+)", printed),
    }
    commands = _readme_commands()
    for port, service in README_PORTS.items():
        found = urls[service]
        assert found, f"{service}'s URL is not printed"
        commands = commands.replace(f"http://127.0.0.1:{port}", found.group(1))
    intake = urls["pulse-intake"].group(1)  # type: ignore[union-attr]
    ran = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", commands],
        cwd=PROJECT,
        # The admin CLI's default URL is 8001, like the README's; here it is the port printed.
        env={**env, "WELLPULSE_DEV_FOLDER": str(folder), "WELLPULSE_INTAKE_URL": intake},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    out = ran.stdout
    assert '"unit_id":"northshire"' in out, out
    # curl -w prints the status after the previous command's JSON, which ends without a newline.
    assert re.search(r"\b401$", out, re.M), "without a token the trend is refused"
    assert '"unit_id":"cs-assess-a"' in out, "hr sees its directorate's alert"
    assert '"rule":"intent_to_leave"' in out
    assert "pulse_id: p-" in out, "the admin CLI opened (or found) this week's round with the admin token"


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
