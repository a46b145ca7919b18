"""Alerts settings (environment variables prefixed ``ALERTS_``)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from wellpulse.common.auth.settings import OidcSettings
from wellpulse.common.settings import GroupSizeSettings, SmtpSettings


class AlertsSettings(OidcSettings, SmtpSettings, GroupSizeSettings):
    model_config = SettingsConfigDict(env_prefix="ALERTS_")

    http_port: int = 8003
    # The organisation's alert rules (YAML); the packaged social-work defaults when unset.
    rules_path: Path | None = None
    # The question bank, for which items make up each HSE scale (the sustained-decline rule).
    bank_path: Path | None = None
    organisation_name: str = "Your organisation"
    # Where HR reaches this service; alert emails and webhooks link to the alert here.
    public_url: str | None = None
    outbox_interval_seconds: float = Field(default=30.0, gt=0)

    # Delivery to HR contacts: retried with exponential backoff and jitter, then marked failed.
    delivery_interval_seconds: float = Field(default=5.0, gt=0)
    delivery_lease_seconds: float = Field(default=60.0, gt=0)
    delivery_first_retry_seconds: float = Field(default=30.0, gt=0)
    delivery_max_retry_seconds: float = Field(default=3600.0, gt=0)
    delivery_max_attempts: int = Field(default=12, ge=1, le=100)
    mail_from: str = "WellPulse alerts <alerts@example.org>"
