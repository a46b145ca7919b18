"""The dashboard's side of an OpenID Connect sign-in, with Authlib's Starlette client: discovery of
the provider's endpoints, the authorization URL with state, nonce and a PKCE S256 challenge, and the
code's exchange for tokens (client authenticated, verifier sent).

Two of Authlib's steps are left out on purpose. Its ``authorize_redirect`` keeps the state in a
client-side session cookie; here it stays in reporting's database (``sessions``). And its
``authorize_access_token`` checks the id token with its own JOSE code; here the id token goes
through the token code every service uses for bearer tokens (``Authenticator.signed_in``), so
roles and scope are read from the same claims in the same way.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import authlib.deprecate
import httpx

from wellpulse.reporting.settings import ReportingSettings

# Authlib warns at import that it will want the httpx2 package one day; it works with httpx, which
# every service here uses. Its own "always" filter comes first, so this one must be added after it.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "The httpx module is deprecated", authlib.deprecate.AuthlibDeprecationWarning)
    from authlib.integrations.starlette_client import OAuth, OAuthError

log = logging.getLogger(__name__)
CLIENT_NAME = "wellpulse"


@dataclass(frozen=True)
class Authorization:
    url: str  # where the browser goes to sign in
    state: str
    nonce: str
    code_verifier: str


class SignInFailed(Exception):
    """The provider's answer could not be turned into tokens. ``unavailable``: it could not be reached
    (try later); otherwise it refused (sign in again). The message is for the log, not the page."""

    def __init__(self, message: str, *, unavailable: bool) -> None:
        super().__init__(message)
        self.unavailable = unavailable


class SignInClient:
    def __init__(self, settings: ReportingSettings) -> None:
        if not settings.dashboard_client_id:
            raise ValueError("the dashboard needs REPORTING_DASHBOARD_CLIENT_ID")
        secret = settings.dashboard_client_secret
        oauth = OAuth()
        oauth.register(
            CLIENT_NAME,
            client_id=settings.dashboard_client_id,
            client_secret=secret.get_secret_value() if secret else None,
            server_metadata_url=settings.required_issuer().rstrip("/") + "/.well-known/openid-configuration",
            client_kwargs={
                "scope": settings.dashboard_scopes,
                "code_challenge_method": "S256",
                "timeout": settings.oidc_http_timeout_seconds,
                "follow_redirects": False,
            },
            user_agent="wellpulse-reporting",
        )
        self._client = oauth.create_client(CLIENT_NAME)
        self.client_id: str = settings.dashboard_client_id
        self.redirect_uri = settings.dashboard_callback_url

    async def authorization(self) -> Authorization:
        """Where to send the browser, and what its answer must match (state, nonce, PKCE verifier)."""
        try:
            started = await self._client.create_authorization_url(self.redirect_uri)
        except (httpx.HTTPError, ValueError, RuntimeError) as exc:  # RuntimeError: no authorization_endpoint
            raise SignInFailed(f"discovery failed: {type(exc).__name__}: {exc}", unavailable=True) from exc
        return Authorization(started["url"], started["state"], started["nonce"], started["code_verifier"])

    async def id_token(self, code: str, code_verifier: str) -> str:
        """The id token the provider answers for this code (not yet checked: see ``Authenticator.signed_in``)."""
        try:
            token = await self._client.fetch_access_token(
                redirect_uri=self.redirect_uri, code=code, code_verifier=code_verifier
            )
        except OAuthError as exc:
            raise SignInFailed(f"the token request was refused: {exc.error}", unavailable=False) from exc
        except (httpx.HTTPError, ValueError) as exc:
            raise SignInFailed(f"the token request failed: {type(exc).__name__}", unavailable=True) from exc
        id_token = token.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise SignInFailed("the token response has no id_token (is openid in the scopes?)", unavailable=False)
        return id_token
