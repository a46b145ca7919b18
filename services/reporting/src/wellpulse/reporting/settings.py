"""Reporting settings (environment variables prefixed ``REPORTING_``)."""

from pathlib import Path
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from wellpulse.common.auth.settings import OidcSettings
from wellpulse.common.settings import ConfigurationError, Environment, GroupSizeSettings


class ReportingSettings(OidcSettings, GroupSizeSettings):
    model_config = SettingsConfigDict(env_prefix="REPORTING_")

    http_port: int = 8004
    # The question bank, for which items inform each of the 12 Changes.
    bank_path: Path | None = None
    # Bands against a file (per HSE scale its 20th, 50th and 80th percentiles) instead of the
    # organisation's own teams; see README "Reporting".
    benchmark_file: Path | None = None
    # The organisation's own benchmark needs at least this many teams on a scale, and is re-read
    # at most this often per window.
    benchmark_min_units: int = Field(default=5, ge=3)
    benchmark_keep_seconds: float = Field(default=300.0, ge=0)
    # A week is shown from this many days after its Sunday, once its responses are in: figures that
    # still move would give each new response away by difference (see publication.py).
    publish_after_days: int = Field(default=1, ge=0, le=28)
    # Development only (the demo, the tests): show the week in progress as well.
    show_week_in_progress: bool = False

    @model_validator(mode="after")
    def _week_in_progress_only_in_development(self) -> Self:
        if self.show_week_in_progress and self.environment is not Environment.development:
            raise ConfigurationError(
                "REPORTING_SHOW_WEEK_IN_PROGRESS is for development only: a week shown while its responses "
                "arrive gives each new response away by difference. Remove it, or set "
                "REPORTING_ENVIRONMENT=development on a laptop"
            )
        return self
