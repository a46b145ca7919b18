"""``wellpulse-reporting serve`` / ``migrate``."""

from wellpulse.common.service import run_cli
from wellpulse.reporting.app import MIGRATIONS, build
from wellpulse.reporting.settings import ReportingSettings
from wellpulse.reporting.store import SCHEMA


def main() -> None:
    run_cli("reporting", ReportingSettings, build, schema=SCHEMA, migrations=MIGRATIONS)
