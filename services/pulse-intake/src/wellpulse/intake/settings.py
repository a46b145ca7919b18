"""Pulse-intake settings (environment variables prefixed ``INTAKE_``)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from wellpulse.common.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_")

    http_port: int = 8001
    # An organisation's own question bank (YAML); the packaged default when unset.
    bank_path: Path | None = None
    max_items_per_pulse: int = Field(default=8, ge=3, le=20)
    # Told to a client when the broker is unavailable and its response was not taken.
    retry_after_seconds: int = Field(default=30, ge=1)
