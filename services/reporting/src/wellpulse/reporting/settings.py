"""Reporting settings (environment variables prefixed ``REPORTING_``)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from wellpulse.common.auth.settings import OidcSettings


class ReportingSettings(OidcSettings):
    model_config = SettingsConfigDict(env_prefix="REPORTING_")

    http_port: int = 8004
    # Minimum reporting group k: nothing is shown for fewer respondents than this.
    min_group_size: int = Field(default=5, ge=3, le=20)
