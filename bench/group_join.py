"""How long the broker itself takes to let a consumer into its group: a bare aiokafka consumer in a
child process joins, is stopped (SIGTERM, it leaves) or killed (SIGKILL), and a new one joins in
its place, with and without static membership. Prints JSON. The services cannot come back faster
than this; it is the broker's share of their restart-to-ready (see bench/README.md).

    .venv/bin/python bench/group_join.py [--session-timeout-ms 6000 --heartbeat-interval-ms 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from runtime import say

from wellpulse.devstack.embedded import EmbeddedTansu

REPO = Path(__file__).resolve().parent.parent
TOPIC = "bench.group-join"
MEMBER = """
import asyncio, json, signal, sys, time
from aiokafka import AIOKafkaConsumer

async def main():
    bootstrap, group, instance, session_ms, heartbeat_ms, topic = sys.argv[1:7]
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=group, group_instance_id=instance or None,
        session_timeout_ms=int(session_ms), heartbeat_interval_ms=int(heartbeat_ms),
    )
    started = time.monotonic()
    await consumer.start()
    print(json.dumps({"joined_s": round(time.monotonic() - started, 2),
                      "partitions": len(consumer.assignment())}), flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await consumer.stop()

asyncio.run(main())
"""


def member(args: argparse.Namespace, bootstrap: str, group: str, instance: str) -> tuple[subprocess.Popen[str], Any]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            MEMBER,
            bootstrap,
            group,
            instance,
            str(args.session_timeout_ms),
            str(args.heartbeat_interval_ms),
            TOPIC,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait()
        raise SystemExit(f"a member exited with code {process.returncode} before joining")
    return process, json.loads(line)


def measure(args: argparse.Namespace, bootstrap: str) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for membership, instance in (("dynamic", ""), ("static", "bench-member-0")):
        for ending in ("sigterm", "sigkill"):
            group = f"bench-join-{uuid.uuid4().hex[:6]}"
            first, joined = member(args, bootstrap, group, instance)
            first.send_signal(signal.SIGTERM) if ending == "sigterm" else first.kill()
            first.wait()
            second, rejoined = member(args, bootstrap, group, instance)
            second.kill()
            second.wait()
            figures[f"{membership}_after_{ending}"] = {
                "first_join_s": joined["joined_s"],
                "join_in_its_place_s": rejoined["joined_s"],
                "partitions": rejoined["partitions"],
            }
            say(f"{membership}, after {ending}: {figures[f'{membership}_after_{ending}']}")
    return figures


async def create_topic(bootstrap: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if TOPIC not in set(await admin.list_topics()):
            await admin.create_topics([NewTopic(TOPIC, 6, 1)])
    finally:
        await admin.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--session-timeout-ms", type=int, default=6000)
    parser.add_argument("--heartbeat-interval-ms", type=int, default=1000)
    args = parser.parse_args()
    tansu = None
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if not bootstrap:
        tansu = EmbeddedTansu(REPO / ".devstack" / f"bench-join-{os.getpid()}" / "tansu")
        bootstrap = tansu.start()
    try:
        asyncio.run(create_topic(bootstrap))
        result = {
            "broker": "tansu (embedded)" if tansu else bootstrap,
            "session_timeout_ms": args.session_timeout_ms,
            "heartbeat_interval_ms": args.heartbeat_interval_ms,
            **measure(args, bootstrap),
        }
    finally:
        if tansu:
            tansu.stop()
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
