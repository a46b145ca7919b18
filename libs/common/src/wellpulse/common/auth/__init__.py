"""Access control shared by every service: bearer tokens from the organisation's OIDC provider,
roles, and unit-subtree scope. Routers use the aliases in ``dependencies``; nothing else checks.
Browser pages get the same principal from a session opened at sign-in (``SessionUser``)."""

from wellpulse.common.auth.dependencies import (
    BrowserSessions,
    CallerScope,
    CurrentUser,
    OrgTree,
    Scope,
    SessionRoleCheck,
    SessionUser,
    SignInRequired,
    UnitIdPath,
    UnitInScope,
    UnitInSessionScope,
    not_found,
    require,
)
from wellpulse.common.auth.principal import Principal, Role

__all__ = [
    "BrowserSessions",
    "CallerScope",
    "CurrentUser",
    "OrgTree",
    "Principal",
    "Role",
    "Scope",
    "SessionRoleCheck",
    "SessionUser",
    "SignInRequired",
    "UnitIdPath",
    "UnitInScope",
    "UnitInSessionScope",
    "not_found",
    "require",
]
