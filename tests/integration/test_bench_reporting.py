"""The reporting bench's synthetic read model agrees with the real code, at its tiny size: its
vectorised scoring with ``score_response`` + ``measures_of`` one response at a time, its fanned-out
subtree rows with ``SubtreeRollups.rebuild``, its subtree headcounts with the org projection's. And
its endpoint table names every unit view reporting serves. (No timings: those live in bench/.)"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import asyncpg

from wellpulse.common.bank import load_bank
from wellpulse.common.migrations import apply_migrations
from wellpulse.reporting.app import MIGRATIONS

BENCH = Path(__file__).resolve().parents[2] / "bench"
sys.path.insert(0, str(BENCH))

import reporting as bench  # noqa: E402
import synthetic  # noqa: E402


async def test_the_bench_data_is_what_the_write_path_would_have_stored(fresh_database: str) -> None:
    await asyncio.to_thread(apply_migrations, fresh_database, synthetic.SCHEMA, MIGRATIONS)
    bank = load_bank()
    data = await asyncio.to_thread(synthetic.synthesise, synthetic.SIZES["tiny"], bank, 8, True)
    # Realistic enough to exercise disclosure control: small teams, and every week answered.
    assert bench.org_facts(data.org)["teams_under_5_people"] >= 1
    assert data.respondents.sum(axis=0).min() > 0
    conn = await asyncpg.connect(fresh_database)
    try:
        steps = await synthetic.load(conn, data)
        assert set(steps) >= {"org_units", "own_rollups", "subtree_rollups"}
        assert await conn.fetchval("SELECT count(*) FROM reporting.own_rollups") == data.own.rows()
        assert await conn.fetchval("SELECT count(*) FROM reporting.subtree_rollups") == data.subtree.rows()
        scoring = synthetic.check_scoring(data, bank)
        assert scoring["responses_scored"] == data.responses
        assert scoring["mismatches"] == []
        fanout = await synthetic.check_fanout(conn, data)
        assert fanout["rows_rebuilt"] == data.subtree.rows()
        assert fanout["mismatches"] == []
        headcounts = await synthetic.check_headcounts(conn, data.org)
        assert headcounts["units"] == len(data.org.ids)
        assert headcounts["mismatches"] == []
    finally:
        await conn.close()


def test_the_bench_times_every_unit_view_reporting_serves() -> None:
    from wellpulse.reporting.app import build
    from wellpulse.reporting.settings import ReportingSettings

    app = build(ReportingSettings(environment="development", oidc_issuer="http://127.0.0.1:1/issuer"))
    served = {
        path for path, ops in app.openapi()["paths"].items() if path.startswith("/v1/units/{unit_id}/") and "get" in ops
    }
    timed = {e.path for e in bench.ENDPOINTS.values()}
    assert served
    assert served <= timed, f"not in bench/reporting.py's ENDPOINTS: {sorted(served - timed)}"
    # And each of them has its statements explained.
    assert {p.rsplit("/", 1)[1] for p in served} <= set(bench.RUNNERS)
