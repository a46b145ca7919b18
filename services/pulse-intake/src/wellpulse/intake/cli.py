"""``wellpulse-intake serve`` / ``migrate``."""

from wellpulse.common.service import run_cli
from wellpulse.intake.app import MIGRATIONS, build
from wellpulse.intake.settings import IntakeSettings
from wellpulse.intake.store import SCHEMA


def main() -> None:
    run_cli("pulse-intake", IntakeSettings, build, schema=SCHEMA, migrations=MIGRATIONS)
