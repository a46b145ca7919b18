"""``wellpulse-dev run`` on a taken port: it names the port, the process that holds it and the way
out, before it starts anything."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from wellpulse.devstack.embedded import free_port
from wellpulse.devstack.ports import holder_of, taken_ports
from wellpulse.devstack.processes import SERVICES

WELLPULSE_DEV = Path(sys.executable).parent / "wellpulse-dev"
LISTENER = "import socket, sys; s = socket.socket(); s.bind(('127.0.0.1', int(sys.argv[1]))); s.listen(); input()"


@pytest.fixture
def listener() -> Iterator[tuple[int, subprocess.Popen[str]]]:
    """Another process listening on a free loopback port (it stops when its stdin closes)."""
    port = free_port()
    process = _listen(port)
    try:
        yield port, process
    finally:
        process.kill()
        process.wait()


def _listen(port: int) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-c", LISTENER, str(port)], stdin=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while not taken_ports({port: "probe"}):  # listening once the port no longer binds
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the listener could not take port {port}")
        time.sleep(0.05)
    return process


def test_a_free_port_is_not_reported() -> None:
    assert taken_ports({free_port(): "pulse-intake"}) == []


def test_a_taken_port_names_the_process_that_listens_on_it(listener: tuple[int, subprocess.Popen[str]]) -> None:
    port, process = listener
    [taken] = taken_ports({port: "reporting", free_port(): "alerts"})
    assert taken.port == port
    assert taken.wanted_by == "reporting"
    assert taken.holder is not None
    assert taken.holder.pid == process.pid
    assert "socket" in taken.holder.command
    assert str(port) in taken.holder.command
    assert taken.describe().startswith(f"port {port} (reporting) is already in use, held by process {process.pid}")


def test_a_holder_that_cannot_be_seen_is_said_so(tmp_path: Path) -> None:
    # No /proc to read (another OS, or a locked-down container): the port is still named.
    assert holder_of(free_port(), proc=tmp_path) is None


def test_run_refuses_a_taken_fixed_port_before_starting_anything(tmp_path: Path) -> None:
    held = {spec.default_port: spec.name for spec in SERVICES}
    ours: dict[int, subprocess.Popen[str]] = {}
    # Take the first fixed port that is free; if something else on this machine holds all four
    # (another `make run`), the command must refuse just the same.
    for port in held:
        if not taken_ports({port: held[port]}):
            ours[port] = _listen(port)
            break
    folder = tmp_path / "stack"
    try:
        run = subprocess.run(
            [str(WELLPULSE_DEV), "run", "--folder", str(folder)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        for process in ours.values():
            process.kill()
            process.wait()
    assert run.returncode != 0
    assert "--any-ports" in run.stderr
    for port, process in ours.items():
        assert f"port {port} ({held[port]}) is already in use, held by process {process.pid}" in run.stderr
    if not ours:
        assert "port 8001 (pulse-intake) is already in use" in run.stderr
    assert "Starting" not in run.stdout
    assert not folder.exists(), "nothing is started (or wiped) when a fixed port is taken"


def test_the_probe_does_not_count_a_closed_port_as_taken() -> None:
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        assert [t.port for t in taken_ports({port: "scoring"})] == [port]
    assert taken_ports({port: "scoring"}) == []
