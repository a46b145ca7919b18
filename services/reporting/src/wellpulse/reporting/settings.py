"""Reporting settings (environment variables prefixed ``REPORTING_``)."""

from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from wellpulse.common.auth.settings import OidcSettings
from wellpulse.common.settings import ConfigurationError, Environment, GroupSizeSettings

DASHBOARD_CALLBACK = "/dashboard/auth/callback"


class ReportingSettings(OidcSettings, GroupSizeSettings):
    model_config = SettingsConfigDict(env_prefix="REPORTING_")

    http_port: int = 8004
    # The question bank, for which items inform each of the 12 Changes.
    bank_path: Path | None = None
    # Bands against a file (per HSE scale its 20th, 50th and 80th percentiles) instead of the
    # organisation's own teams; see README "Reporting".
    benchmark_file: Path | None = None
    # The organisation's own benchmark needs at least this many teams on a scale; the dashboard's
    # windows ending at the latest week shown are taken ahead this often (0: only when asked for).
    benchmark_min_units: int = Field(default=5, ge=3)
    benchmark_ahead_seconds: float = Field(default=600.0, ge=0)
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

    # Where leaders and HR reach this service in their browser (the dashboard's sign-in comes back here).
    public_url: str = "http://127.0.0.1:8004"
    # The dashboard's sign-in (OpenID Connect authorization code + PKCE) with the OIDC_ISSUER above:
    # the client registered for it there. Unset: no dashboard, the APIs only.
    dashboard_client_id: str | None = None
    # Unset for a public client (PKCE only); a confidential client's secret otherwise.
    dashboard_client_secret: SecretStr | None = None
    # The redirect URI registered with the provider; default PUBLIC_URL + /dashboard/auth/callback.
    dashboard_redirect_url: str | None = None
    dashboard_scopes: str = "openid"
    # A session ends with its id token, and after this long whatever the token says.
    dashboard_session_max_seconds: int = Field(default=8 * 3600, ge=60, le=7 * 24 * 3600)

    @property
    def dashboard_callback_url(self) -> str:
        return self.dashboard_redirect_url or self.public_url.rstrip("/") + DASHBOARD_CALLBACK

    @property
    def secure_cookies(self) -> bool:
        """Cookies are Secure (and ``__Host-``) everywhere but on a development laptop over http."""
        return self.environment is not Environment.development

    @model_validator(mode="after")
    def _dashboard_over_https(self) -> Self:
        if self.dashboard_client_id and self.secure_cookies and not self.dashboard_callback_url.startswith("https://"):
            raise ConfigurationError(
                "REPORTING_PUBLIC_URL (or REPORTING_DASHBOARD_REDIRECT_URL) must be an https:// URL outside "
                f"development: the dashboard's session cookie is Secure (it is {self.dashboard_callback_url!r})"
            )
        if self.dashboard_client_id and "openid" not in self.dashboard_scopes.split():
            raise ConfigurationError("REPORTING_DASHBOARD_SCOPES must include openid")
        return self
