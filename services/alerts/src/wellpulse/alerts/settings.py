"""Alerts settings (environment variables prefixed ``ALERTS_``)."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from wellpulse.common.auth.settings import OidcSettings


class AlertsSettings(OidcSettings):
    model_config = SettingsConfigDict(env_prefix="ALERTS_")

    http_port: int = 8003
    # Minimum reporting group k: no alert names a group smaller than this.
    min_group_size: int = Field(default=5, ge=3, le=20)
    # Share of answers over the window that intend to leave (job or profession) that raises an alert.
    intent_to_leave_threshold: float = Field(default=0.5, gt=0, le=1)
    window_weeks: int = Field(default=4, ge=1, le=26)
    outbox_interval_seconds: float = Field(default=30.0, gt=0)
