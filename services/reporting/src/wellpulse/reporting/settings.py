"""Reporting settings (environment variables prefixed ``REPORTING_``)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from wellpulse.common.auth.settings import OidcSettings
from wellpulse.common.settings import GroupSizeSettings


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
