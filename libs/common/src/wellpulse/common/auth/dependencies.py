"""The one auth seam every router uses: who is calling, which role they need, whether a unit is theirs.

    user: CurrentUser                                        # any valid token
    user: Annotated[Principal, require(Role.admin)]          # 403 without the role (unscoped resources)
    unit_id: Annotated[str, Depends(UnitInScope(Role.leader, Role.hr))]  # 404 outside the caller's scope
    scope: Annotated[Scope, Depends(CallerScope(Role.hr, resource="alert", path_param="alert_id"))]

Scope comes from the org tree the service keeps (``app.state.org_tree``), not from the token
alone: a unit is the caller's when the unit or one of its ancestors is among the token's units.
Outside the scope, and for a caller without the role, a scoped resource answers exactly as one
that does not exist.

Pages for a signed-in browser (the reporting dashboard) take the caller from the session cookie
instead (``app.state.sessions``: a principal checked by the same token code at sign-in), through
the twins that differ only in where the principal comes from:

    user: SessionUser
    user: Annotated[Principal, Depends(SessionRoleCheck(Role.leader, Role.hr))]
    unit_id: Annotated[str, Depends(UnitInSessionScope(Role.leader, Role.hr))]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from wellpulse.common.auth.authenticator import Authenticator
from wellpulse.common.auth.principal import Principal, Role
from wellpulse.common.http import Problem

UNIT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
UnitIdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=UNIT_ID_PATTERN)]

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    bearerFormat="JWT",
    description="A JWT from the organisation's OpenID Connect provider (on a laptop: `wellpulse-dev token`).",
)


class OrgTree(Protocol):
    async def ancestors(self, unit_id: str) -> Sequence[str]:
        """The unit and its ancestors, nearest first; empty when the unit is unknown or removed."""
        ...


class BrowserSessions(Protocol):
    async def principal(self, request: Request) -> Principal | None:
        """Who the request's session cookie names; None without a live session."""
        ...


class SignInRequired(Problem):
    """A page asked for without a live session: pages answer it by sending the browser to sign in."""

    def __init__(self) -> None:
        super().__init__(401, "Not signed in", "Sign in to see this page; your session may have ended.")


async def current_user(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Principal:
    authenticator: Authenticator = request.app.state.authenticator
    return await authenticator.principal(credentials.credentials if credentials else None)


CurrentUser = Annotated[Principal, Depends(current_user)]


async def session_user(request: Request) -> Principal:
    sessions: BrowserSessions | None = request.app.state.sessions
    principal = await sessions.principal(request) if sessions is not None else None
    if principal is None:
        raise SignInRequired()
    return principal


SessionUser = Annotated[Principal, Depends(session_user)]


def not_found(what: str, identifier: str) -> Problem:
    """The one answer for "no such thing" and "not yours": same status, title and body shape."""
    return Problem(404, "Not Found", f"no {what} {identifier!r}")


class RoleCheck:
    """403 unless the caller holds one of the roles. For resources that are not scoped by unit."""

    answers = 403

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    async def __call__(self, request: Request, user: CurrentUser) -> Principal:
        return self.check(request, user)

    def check(self, request: Request, user: Principal) -> Principal:
        if not user.has_any(self.roles):
            request.app.state.authenticator.forbidden()
            raise Problem(
                403,
                "Forbidden",
                f"This needs the {' or '.join(sorted(self.roles))} role; the token grants "
                f"{', '.join(sorted(user.roles)) or 'no WellPulse role'}.",
                headers={"WWW-Authenticate": 'Bearer realm="wellpulse", error="insufficient_scope"'},
            )
        return user


class SessionRoleCheck(RoleCheck):
    """RoleCheck for a signed-in browser."""

    async def __call__(self, request: Request, user: SessionUser) -> Principal:
        return self.check(request, user)


def require(*roles: Role) -> Any:
    return Depends(RoleCheck(*roles))


@dataclass(frozen=True)
class Scope:
    principal: Principal
    roles: frozenset[Role]
    tree: OrgTree

    async def covers(self, unit_id: str) -> bool:
        """Whether the caller may see this unit: the role, and the unit inside a unit they hold."""
        ancestors = await self.tree.ancestors(unit_id)  # looked up either way: the same time class
        return self.principal.has_any(self.roles) and not set(ancestors).isdisjoint(self.principal.units)


class CallerScope:
    """The caller's scope for the handler to check units against (``await scope.covers(unit_id)``).

    A caller without the role gets the 404 an unknown ``resource`` would get, at once, before the
    request is read any further (its ``path_param`` names the resource in the detail).
    """

    answers = 404

    def __init__(self, *roles: Role, resource: str, path_param: str) -> None:
        self.roles = frozenset(roles)
        self.resource, self.path_param = resource, path_param

    async def __call__(self, request: Request, user: CurrentUser) -> Scope:
        if not user.has_any(self.roles):
            raise not_found(self.resource, str(request.path_params.get(self.path_param, "")))
        return Scope(user, self.roles, request.app.state.org_tree)


class UnitInScope:
    """The path's ``unit_id``, when the caller may see it; otherwise 404, as for a unit that does not exist."""

    answers = 404

    def __init__(self, *roles: Role) -> None:
        self.roles = frozenset(roles)

    async def __call__(self, request: Request, unit_id: UnitIdPath, user: CurrentUser) -> str:
        return await self.check(request, unit_id, user)

    async def check(self, request: Request, unit_id: str, user: Principal) -> str:
        if not await Scope(user, self.roles, request.app.state.org_tree).covers(unit_id):
            raise not_found("unit", unit_id)
        return unit_id


class UnitInSessionScope(UnitInScope):
    """UnitInScope for a signed-in browser: the same check, the same 404."""

    async def __call__(self, request: Request, unit_id: UnitIdPath, user: SessionUser) -> str:
        return await self.check(request, unit_id, user)
