"""Before ``wellpulse-dev run`` starts anything: are the fixed ports free, and if one is not, who holds it.

The holder is looked up in ``/proc`` (the socket's inode in ``/proc/net/tcp*``, then the process
with that inode among its open files); where that cannot be seen (another user's process, no
``/proc``) the message says so and still names the port.
"""

from __future__ import annotations

import contextlib
import errno
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from wellpulse.devstack.embedded import StackError
from wellpulse.devstack.processes import SERVICES

PROC = Path("/proc")
LISTEN = "0A"  # the TCP state column of /proc/net/tcp


@dataclass(frozen=True)
class Holder:
    pid: int
    command: str


@dataclass(frozen=True)
class TakenPort:
    port: int
    wanted_by: str
    holder: Holder | None

    def describe(self) -> str:
        held = (
            f"held by process {self.holder.pid} ({self.holder.command})"
            if self.holder
            else "held by a process this user cannot see"
        )
        return f"port {self.port} ({self.wanted_by}) is already in use, {held}"


def refuse_taken_service_ports() -> None:
    """Raise a StackError naming every taken service port (8001-8004), its holder and the way out."""
    taken = taken_ports({spec.default_port: spec.name for spec in SERVICES})
    if taken:
        lines = "\n  ".join(t.describe() for t in taken)
        raise StackError(
            f"cannot start on the fixed ports:\n  {lines}\n"
            "Stop what holds them, or start on free ports instead: scripts/run --any-ports "
            "(or .venv/bin/wellpulse-dev run --any-ports)"
        )


def taken_ports(wanted: Mapping[int, str], host: str = "127.0.0.1") -> list[TakenPort]:
    """The ports of ``wanted`` (port -> what wants it) that a server could not bind on ``host`` now."""
    return [
        TakenPort(port, name, holder_of(port)) for port, name in sorted(wanted.items()) if not _bindable(host, port)
    ]


def _bindable(host: str, port: int) -> bool:
    with socket.socket() as probe:
        # As uvicorn binds: a socket of an earlier run still in TIME_WAIT does not count as taken.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
        return True


def holder_of(port: int, proc: Path = PROC) -> Holder | None:
    inodes = set(_socket_inodes(port, proc))
    if not inodes:
        return None
    for pid_dir in _process_dirs(proc):
        with contextlib.suppress(OSError):  # gone meanwhile, or another user's
            for fd in (pid_dir / "fd").iterdir():
                target = _readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    return Holder(int(pid_dir.name), _command(pid_dir))
    return None


def _socket_inodes(port: int, proc: Path) -> Iterable[str]:
    """Inodes of the sockets bound to ``port``, listening ones first."""
    found: list[tuple[bool, str]] = []
    for table in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in (proc / "net" / table).read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) > 9 and int(fields[1].rsplit(":", 1)[1], 16) == port and fields[9] != "0":
                    found.append((fields[3] != LISTEN, fields[9]))
    return [inode for _, inode in sorted(found)]


def _process_dirs(proc: Path) -> Iterable[Path]:
    with contextlib.suppress(OSError):
        return sorted((p for p in proc.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
    return []


def _readlink(path: Path) -> str:
    try:
        return str(path.readlink())
    except OSError:
        return ""


def _command(pid_dir: Path) -> str:
    try:
        argv = (pid_dir / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return "command unknown"
    command = " ".join(a.decode(errors="replace") for a in argv if a)
    return command[:200] or "command unknown"
