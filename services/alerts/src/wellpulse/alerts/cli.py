"""``wellpulse-alerts serve`` / ``migrate``."""

from wellpulse.alerts.app import MIGRATIONS, build
from wellpulse.alerts.settings import AlertsSettings
from wellpulse.alerts.store import SCHEMA
from wellpulse.common.service import run_cli


def main() -> None:
    run_cli("alerts", AlertsSettings, build, schema=SCHEMA, migrations=MIGRATIONS)
