"""The README's run command: the whole stack comes up with the demo, a trend is visible over HTTP,
and Ctrl-C stops everything it started."""

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


def test_run_brings_up_the_demo_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")}
    log = tmp_path / "run.log"
    with log.open("w") as out:
        run = subprocess.Popen(
            [str(WELLPULSE_DEV), "run", "--any-ports", "--weeks", "3", "--folder", str(tmp_path / "stack")],
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
        assert trend_url, printed
        assert form_url, printed
        # Everything it started listens on a loopback port it printed: database, broker, services.
        ports = sorted({int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", printed)})
        assert len(ports) >= 6, printed

        trend = httpx.get(f"{trend_url.group(1)}?weeks=3").json()
        shown = [w for w in trend["weeks"] if not w["suppressed"]]
        assert shown, "the demo team's trend shows at least one week"
        for week in shown:
            assert week["respondents"] >= trend["min_group_size"]
            assert any(m.startswith("scale:") and f for m, f in week["measures"].items())
        assert httpx.get(form_url.group(1)).status_code == 200
    finally:
        run.send_signal(signal.SIGINT)
        run.wait(60)
    assert "Everything this command started has stopped." in log.read_text()
    assert [port for port in ports if _listening(port)] == []


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
