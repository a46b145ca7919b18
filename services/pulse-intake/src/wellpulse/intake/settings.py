"""Pulse-intake settings (environment variables prefixed ``INTAKE_``)."""

from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from wellpulse.common.auth.settings import OidcSettings
from wellpulse.common.settings import ConfigurationError, Environment, GroupSizeSettings, SmtpSettings


class IntakeSettings(OidcSettings, SmtpSettings, GroupSizeSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_")

    http_port: int = 8001
    organisation_name: str = "Your organisation"
    # The address staff reach this service at; links are built on it.
    public_url: str = "http://127.0.0.1:8001"
    # Keys the hash of every link token. Losing it orphans this round's links; leaking it lets a
    # holder of the links table test guessed tokens (still 256 bits each).
    token_hash_key: SecretStr = SecretStr("development-only-not-a-secret")
    # An organisation's own question bank (YAML); the packaged default when unset.
    bank_path: Path | None = None
    max_items_per_pulse: int = Field(default=8, ge=3, le=20)
    # The body cap for the two imports (org tree, roster); every other route takes MAX_BODY_BYTES.
    max_import_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    # Told to a client when the broker is unavailable and its response was not taken.
    retry_after_seconds: int = Field(default=30, ge=1)
    # A link takes answers until this many days after its week's Sunday (UTC), then answers as a
    # closed round: keep it below REPORTING_PUBLISH_AFTER_DAYS (see answer_window.py).
    late_answer_days: int = Field(default=0, ge=0, le=27)
    # Development only (the demo, the tests): open and answer rounds of weeks gone by.
    answer_past_weeks: bool = False

    # The weekly schedule: open each week's round, email its links to the roster, close last week's.
    schedule_enabled: bool = False
    schedule_interval_seconds: float = Field(default=300.0, gt=0)
    schedule_send_links: bool = True

    mail_from: str = "WellPulse <pulse@example.org>"

    @model_validator(mode="after")
    def _past_weeks_only_in_development(self) -> Self:
        if self.answer_past_weeks and self.environment is not Environment.development:
            raise ConfigurationError(
                "INTAKE_ANSWER_PAST_WEEKS is for development only: an answer that arrives after its week is "
                "shown would move a figure leaders have read, and give that answer away. Remove it, or set "
                "INTAKE_ENVIRONMENT=development on a laptop"
            )
        return self
