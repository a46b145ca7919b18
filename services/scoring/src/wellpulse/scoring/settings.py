"""Scoring settings (environment variables prefixed ``SCORING_``)."""

from pathlib import Path

from pydantic_settings import SettingsConfigDict

from wellpulse.common.settings import ServiceSettings


class ScoringSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SCORING_")

    http_port: int = 8002
    # An organisation's own question bank (YAML); the packaged default when unset.
    bank_path: Path | None = None
