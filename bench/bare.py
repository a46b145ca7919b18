"""The intake baseline: a bare FastAPI endpoint on intake's server stack (uvicorn, uvloop, the same
httptools protocol) that validates the same JSON body and answers 202 with nothing behind it.

Run as a script it serves (``bare.py PORT``); ``bare_phase`` starts it as a process of its own and
drives it with the load generator and concurrency the bench uses for intake.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from load import Round, random_answers, status_counts, submit_all
from measure import process_cpu_seconds, rate, spread
from runtime import BenchFailed, Deadline, bounded, say

from wellpulse.common.bank import QuestionBank
from wellpulse.common.limits import bounded_http_protocol
from wellpulse.common.settings import ServiceSettings
from wellpulse.devstack.embedded import free_port, wait_for_port
from wellpulse.intake.public import ResponseIn

SEED = 51


def serve(port: int) -> None:
    app = FastAPI()

    @app.post("/v1/responses", status_code=202)
    async def submit_response(body: ResponseIn) -> JSONResponse:
        return JSONResponse({"status": "accepted"}, status_code=202)

    limits = ServiceSettings.model_fields
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        http=bounded_http_protocol(
            max_url_bytes=limits["max_url_bytes"].default, max_head_bytes=limits["max_header_bytes"].default
        ),
    )


def _start(port: int, log_dir: Path) -> subprocess.Popen[bytes]:
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / "bare-fastapi.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, __file__, str(port)], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


async def bare_phase(
    bench_round: Round, bank: QuestionBank, n: int, concurrency: int, client: str, deadline: Deadline, log_dir: Path
) -> dict[str, Any]:
    """N requests like intake's (same item codes, random answers, token-shaped tokens) against the
    bare app, one attempt each."""
    port = free_port()
    process = await asyncio.to_thread(_start, port, log_dir)
    try:
        await asyncio.to_thread(wait_for_port, port, time.monotonic() + 30, "the bare FastAPI app", process)
        rng = random.Random(SEED)
        bodies = [
            {"token": secrets.token_urlsafe(32), "answers": random_answers(bench_round.items, bank, rng)}
            for _ in range(n)
        ]
        say(f"baseline: {n} requests to a bare FastAPI app, {concurrency} in flight")
        subs = await submit_all(f"http://127.0.0.1:{port}/v1/responses", bodies, concurrency, client, deadline)
        accepted = sorted((s for s in subs if s.status == 202), key=lambda s: s.answered_at)
        if not accepted:
            raise BenchFailed(f"the bare app accepted nothing: {status_counts(subs)}")
        first = min(s.submitted_at for s in subs if s.submitted_at)
        cpu_s = process_cpu_seconds(process.pid)
        return {
            "statuses": status_counts(subs),
            "bare_fastapi_per_s": rate(len(accepted), accepted[-1].answered_at - first),
            "request_ms": spread([s.answered_at - s.submitted_at for s in accepted]),
            # Its start-up included: CPU time is steadier than wall time on a shared machine.
            "cpu_ms_per_request": round(1000 * cpu_s / len(accepted), 3) if cpu_s is not None else None,
        }
    finally:
        process.terminate()
        await bounded("stopping the bare FastAPI app", asyncio.to_thread(process.wait, 10))


if __name__ == "__main__":
    serve(int(sys.argv[1]))
