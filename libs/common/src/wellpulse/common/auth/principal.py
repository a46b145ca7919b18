"""Who is calling: the subject, roles and unit scope a verified token grants. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Role(StrEnum):
    leader = "leader"  # trends for their part of the organisation
    hr = "hr"  # alerts (and trends) for their part of the organisation
    admin = "admin"  # the organisation's set-up: org tree, roster, rounds, links, signposts


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[Role]
    # Each unit id means that unit and its whole subtree.
    units: tuple[str, ...]

    def has_any(self, roles: frozenset[Role]) -> bool:
        return not self.roles.isdisjoint(roles)


class ClaimProblem(ValueError):
    """A verified token lacks what a principal needs (a subject); the message names the claim."""


@dataclass(frozen=True)
class ClaimNames:
    """Where a provider puts subject, roles and scope, and which role values mean which role."""

    subject: str = "sub"
    roles: str = "roles"
    units: str = "wellpulse_units"
    role_values: Mapping[str, Role] | None = None

    def principal(self, claims: Mapping[str, Any]) -> Principal:
        subject = claim(claims, self.subject)
        if not isinstance(subject, str) or not subject:
            raise ClaimProblem(f"the token has no {self.subject!r} claim naming who it was issued to")
        values = self.role_values or {role.value: role for role in Role}
        roles = frozenset(values[v] for v in _strings(claim(claims, self.roles)) if v in values)
        return Principal(subject, roles, tuple(dict.fromkeys(_strings(claim(claims, self.units)))))


def claim(claims: Mapping[str, Any], name: str) -> Any:
    """A claim by name; a dotted name is also tried as a path (``realm_access.roles``).

    The whole name comes first, so namespaced claims (``https://example.org/units``) still work.
    """
    if name in claims:
        return claims[name]
    node: Any = claims
    for part in name.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _strings(value: Any) -> list[str]:
    """A list of strings, or one string of space-separated values (as some providers send roles)."""
    if isinstance(value, str):
        return value.split()
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, str) and v]
    return []
