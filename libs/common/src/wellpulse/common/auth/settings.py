"""How a service with an API for leaders, HR or admins checks their bearer tokens (``<PREFIX>OIDC_*``)."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode

from wellpulse.common.settings import ConfigurationError, Environment, ServiceSettings

# Signatures by a key pair only: a token's header can never make the service treat a public key
# as an HMAC secret, and "none" is never a signature.
ASYMMETRIC_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


class OidcSettings(ServiceSettings):
    """Bearer tokens from the organisation's OpenID Connect provider (Entra ID, Keycloak, Google...)."""

    # The provider's issuer identifier, exactly as its tokens' `iss` and its discovery document say.
    oidc_issuer: str | None = None
    # The `aud` the tokens must carry: the client id or application id URI registered for WellPulse.
    oidc_audience: str = "wellpulse"
    oidc_algorithms: Annotated[tuple[str, ...], NoDecode] = ("RS256", "PS256", "ES256")
    # Where roles and unit scope sit in the token. A dotted name is a path (Keycloak's
    # `realm_access.roles`) unless the token has a claim of exactly that name.
    oidc_subject_claim: str = "sub"
    oidc_roles_claim: str = "roles"
    oidc_units_claim: str = "wellpulse_units"
    # The claim value that grants each role, for providers whose role names are fixed elsewhere.
    oidc_leader_role: str = "leader"
    oidc_hr_role: str = "hr"
    oidc_admin_role: str = "admin"
    oidc_leeway_seconds: int = Field(default=30, ge=0, le=300)
    # Keys are re-read after this long; and never more often than the floor, however many tokens
    # arrive signed by a key the service has not seen.
    oidc_jwks_max_age_seconds: float = Field(default=900.0, gt=0)
    oidc_jwks_refresh_floor_seconds: float = Field(default=30.0, gt=0)
    oidc_http_timeout_seconds: float = Field(default=5.0, gt=0)

    @field_validator("oidc_algorithms", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return tuple(a.strip() for a in value.split(",") if a.strip()) if isinstance(value, str) else value

    @field_validator("oidc_algorithms")
    @classmethod
    def _asymmetric_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        refused = [a for a in value if a not in ASYMMETRIC_ALGORITHMS]
        if refused or not value:
            raise ValueError(
                f"{', '.join(refused) or 'an empty list'} cannot be allowed: list signature algorithms "
                f"of key pairs only, from {', '.join(sorted(ASYMMETRIC_ALGORITHMS))}"
            )
        return value

    @model_validator(mode="after")
    def _issuer_over_https(self) -> Self:
        if (
            self.oidc_issuer is not None
            and self.environment is not Environment.development
            and not self.oidc_issuer.startswith("https://")
        ):
            prefix = self.model_config.get("env_prefix", "")
            raise ConfigurationError(
                f"{prefix}OIDC_ISSUER must be an https:// URL outside development (it is {self.oidc_issuer!r})"
            )
        return self

    def required_issuer(self) -> str:
        if not self.oidc_issuer:
            prefix = self.model_config.get("env_prefix", "")
            raise ConfigurationError(
                f"{prefix}OIDC_ISSUER is not set: name the OpenID Connect provider whose tokens this "
                f"service accepts (for example https://login.microsoftonline.com/<tenant>/v2.0), and "
                f"{prefix}OIDC_AUDIENCE; on a laptop `make run` starts a development issuer and sets both"
            )
        return self.oidc_issuer
