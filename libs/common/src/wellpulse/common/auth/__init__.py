"""Access control shared by every service: bearer tokens from the organisation's OIDC provider,
roles, and unit-subtree scope. Routers use the aliases in ``dependencies``; nothing else checks."""

from wellpulse.common.auth.dependencies import (
    CallerScope,
    CurrentUser,
    OrgTree,
    Scope,
    UnitIdPath,
    UnitInScope,
    not_found,
    require,
)
from wellpulse.common.auth.principal import Principal, Role

__all__ = [
    "CallerScope",
    "CurrentUser",
    "OrgTree",
    "Principal",
    "Role",
    "Scope",
    "UnitIdPath",
    "UnitInScope",
    "not_found",
    "require",
]
