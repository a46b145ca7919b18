"""``wellpulse-reporting serve`` / ``migrate`` / ``rebuild``."""

import argparse
import asyncio
import sys

from wellpulse.common.service import Command, run_cli
from wellpulse.reporting.app import MIGRATIONS, build
from wellpulse.reporting.rebuild.store import NAMES, PREVIOUS, REBUILT
from wellpulse.reporting.rebuild.workflow import Mode, rebuild
from wellpulse.reporting.settings import ReportingSettings
from wellpulse.reporting.store import SCHEMA

REBUILD_HELP = f"""\
Replays org.units, pulse.scored and pulse.alerts from offset 0 of every partition to its end
into a fresh read model in schema {REBUILT} (dropped and migrated afresh first), with the same
code the live consumers use: the whole org tree first, then every scored response, each counted
once however often it was delivered, then every alert raised and HR's handling of it. The live
schema {SCHEMA} is only read, except by --swap. It reads the topics with a consumer in no group,
so the service's consumer groups and offsets are untouched.

The read model is these tables of {SCHEMA}, the topics determine each of them:
  {", ".join(NAMES)}

--compare (the default) then compares the two models row for row (n exactly, totals to within
float rounding) and prints a JSON report on stdout: per table, rows only in the live model, rows
only in the rebuilt one, rows that differ, and the first few of each. Compare on a quiet pipeline:
while responses arrive, the live model may simply not have applied the newest yet. {REBUILT}
is left for inspection.

--swap puts the rebuilt model in the live one's place while the service runs: it holds the tree
lock every live write takes, catches up with the topics' ends as they are then, and in one
transaction moves the read model's tables from {SCHEMA} to {PREVIOUS} and the rebuilt ones into
{SCHEMA}; every other table of {SCHEMA} (migration records, sessions) stays. No response is lost
or counted twice: live batches waiting on the lock carry on in the rebuilt tables, whose
applied_events absorbs what they already hold. It refuses (exit 2, nothing changed) when the
topics no longer hold what the live model counts (retention on pulse.scored or pulse.alerts,
compaction on org.units). The replaced tables are kept in {PREVIOUS} until the next swap.

Progress goes to stderr. Exit status: 0 the models are equal (--compare) or swapped (--swap);
1 they differ (--compare); 2 it could not run (the message says what to fix; nothing live changed).
Settings: REPORTING_DATABASE_URL, REPORTING_KAFKA_BOOTSTRAP_SERVERS (as for the service)."""


def _rebuild_arguments(parser: argparse.ArgumentParser) -> None:
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--compare",
        dest="mode",
        action="store_const",
        const=Mode.compare,
        help="compare the rebuilt read model with the live one and report every difference (the default)",
    )
    mode.add_argument(
        "--swap",
        dest="mode",
        action="store_const",
        const=Mode.swap,
        help="replace the live read model with the rebuilt one, atomically, while the service runs",
    )
    parser.set_defaults(mode=Mode.compare)
    parser.add_argument(
        "--batch-size",
        type=int,
        default=2000,
        metavar="N",
        help="records applied per transaction while replaying (default: %(default)s)",
    )


def _rebuild(settings: ReportingSettings, args: argparse.Namespace) -> int:
    if args.batch_size < 1:
        sys.stderr.write("wellpulse-reporting rebuild: --batch-size must be at least 1\n")
        return 2
    return asyncio.run(rebuild(settings, args.mode, args.batch_size, sys.stdout, sys.stderr))


REBUILD = Command[ReportingSettings](
    name="rebuild",
    help="replay the topics into a fresh read model, then compare it with the live one or swap it in",
    description=REBUILD_HELP,
    arguments=_rebuild_arguments,
    run=_rebuild,
)


def main() -> None:
    run_cli("reporting", ReportingSettings, build, schema=SCHEMA, migrations=MIGRATIONS, commands=[REBUILD])
