"""The four services as separate OS processes, as they run in production."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from wellpulse.devstack.embedded import StackError, free_port


@dataclass(frozen=True)
class ServiceSpec:
    name: str  # the service directory and its script's suffix
    script: str
    env_prefix: str
    default_port: int


SERVICES = (
    ServiceSpec("pulse-intake", "wellpulse-intake", "INTAKE_", 8001),
    ServiceSpec("scoring", "wellpulse-scoring", "SCORING_", 8002),
    ServiceSpec("alerts", "wellpulse-alerts", "ALERTS_", 8003),
    ServiceSpec("reporting", "wellpulse-reporting", "REPORTING_", 8004),
)


@dataclass
class ServiceProcess:
    spec: ServiceSpec
    env: dict[str, str]
    log_dir: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        p = self.spec.env_prefix
        env = {
            **os.environ,
            **self.env,
            f"{p}HTTP_HOST": "127.0.0.1",
            f"{p}HTTP_PORT": str(self.port),
            f"{p}PUBLIC_URL": self.url,  # where intake's links point
        }
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"{self.spec.name}.log").open("ab")
        script = Path(sys.executable).parent / self.spec.script
        self.process = subprocess.Popen(
            [str(script), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise StackError(f"{self.spec.name} exited while starting; see {self.log_dir / self.spec.name}.log")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/readyz", timeout=1.0).status_code == 200:
                    return
            time.sleep(0.1)
        raise StackError(f"{self.spec.name} was not ready within {timeout:.0f}s")

    def stop(self, timeout: float = 20.0) -> None:
        """Graceful: SIGTERM lets the consumer finish its batch and leave the group."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """A crash: SIGKILL, nothing flushed, nothing committed."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
