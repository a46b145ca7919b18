"""The operations each service's OpenAPI declares, read from the apps themselves (built, not run)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

import wellpulse.alerts.app
import wellpulse.intake.app
import wellpulse.reporting.app
from wellpulse.alerts.settings import AlertsSettings
from wellpulse.intake.settings import IntakeSettings
from wellpulse.reporting.settings import ReportingSettings

# What anyone may call: the staff form and its JSON twin, and the operations endpoints.
PUBLIC = {
    ("GET", "/p/{token}"),
    ("POST", "/p/{token}"),
    ("GET", "/v1/links/{token}"),
    ("POST", "/v1/responses"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/asyncapi.json"),
}
ISSUER = "http://127.0.0.1:9/never-called"
BUILDERS: dict[str, Callable[[], FastAPI]] = {
    "pulse-intake": lambda: wellpulse.intake.app.build(IntakeSettings(environment="development", oidc_issuer=ISSUER)),
    "alerts": lambda: wellpulse.alerts.app.build(AlertsSettings(environment="development", oidc_issuer=ISSUER)),
    "reporting": lambda: wellpulse.reporting.app.build(
        ReportingSettings(environment="development", oidc_issuer=ISSUER)
    ),
}


@dataclass(frozen=True)
class Operation:
    service: str
    method: str
    path: str
    roles: frozenset[str]
    # 403 for an unscoped resource; 404 where the resource is scoped (it answers as if absent).
    wrong_role_status: int
    secured: bool

    @property
    def id(self) -> str:
        return f"{self.service} {self.method} {self.path}"


def operations(service: str) -> list[Operation]:
    spec: dict[str, Any] = BUILDERS[service]().openapi()
    found = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            responses = op.get("responses", {})
            found.append(
                Operation(
                    service,
                    method.upper(),
                    path,
                    frozenset(op.get("x-wellpulse-roles", [])),
                    403 if "403" in responses else 404,
                    bool(op.get("security")),
                )
            )
    return found


ALL = [op for service in BUILDERS for op in operations(service)]
PROTECTED = [op for op in ALL if (op.method, op.path) not in PUBLIC]
