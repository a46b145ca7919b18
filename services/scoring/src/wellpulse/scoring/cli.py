"""``wellpulse-scoring serve``."""

from wellpulse.common.service import run_cli
from wellpulse.scoring.app import build
from wellpulse.scoring.settings import ScoringSettings


def main() -> None:
    run_cli("scoring", ScoringSettings, build, schema=None, migrations=None)
