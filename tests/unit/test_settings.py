"""Unit tests for the shared settings base: one env prefix per service, no default secret in production."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError
from pydantic_settings import SettingsConfigDict

from wellpulse.common.settings import (
    MIN_GROUP_SIZE_VARIABLE,
    ConfigurationError,
    DevelopmentSecretOutsideDevelopment,
    Environment,
    ServiceSettings,
)

DEFAULT_SECRET = "development-only-not-a-secret"


class DemoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DEMO_")

    token_hash_key: SecretStr = SecretStr(DEFAULT_SECRET)
    webhook_signing_key: SecretStr = SecretStr("a-real-secret-from-the-vault")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "ENVIRONMENT",
        "TOKEN_HASH_KEY",
        "WEBHOOK_SIGNING_KEY",
        "HTTP_PORT",
        "KAFKA_BOOTSTRAP_SERVERS",
        "DATABASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(f"DEMO_{name}", raising=False)


def test_refuses_the_development_secret_in_production() -> None:
    with pytest.raises(DevelopmentSecretOutsideDevelopment) as caught:
        DemoSettings(environment=Environment.production)

    message = str(caught.value)
    assert "DEMO_TOKEN_HASH_KEY" in message
    assert "DEMO_ENVIRONMENT=development" in message
    assert "WEBHOOK_SIGNING_KEY" not in message  # only the variables that still need setting
    assert DEFAULT_SECRET not in message


def test_refusal_never_prints_the_real_secrets_it_was_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """The refusal ends the process with this message on stderr and in the log collector."""
    monkeypatch.setenv("DEMO_WEBHOOK_SIGNING_KEY", "real-vault-secret-123")
    monkeypatch.setenv("DEMO_DATABASE_URL", "postgresql://wellpulse:db-password-456@db:5432/wellpulse")

    with pytest.raises(DevelopmentSecretOutsideDevelopment, match="DEMO_TOKEN_HASH_KEY") as caught:
        DemoSettings()

    assert "real-vault-secret-123" not in str(caught.value)
    assert "db-password-456" not in str(caught.value)


def test_production_is_the_default_so_a_forgotten_variable_cannot_slip_through() -> None:
    with pytest.raises(DevelopmentSecretOutsideDevelopment, match="DEMO_TOKEN_HASH_KEY"):
        DemoSettings()


def test_names_every_secret_left_at_its_development_default() -> None:
    with pytest.raises(DevelopmentSecretOutsideDevelopment) as caught:
        DemoSettings(webhook_signing_key=SecretStr(DEFAULT_SECRET))

    assert "DEMO_TOKEN_HASH_KEY, DEMO_WEBHOOK_SIGNING_KEY" in str(caught.value)


def test_constructs_with_the_development_secret_in_development() -> None:
    settings = DemoSettings(environment=Environment.development)

    assert settings.environment is Environment.development
    assert settings.token_hash_key.get_secret_value() == DEFAULT_SECRET


def test_constructs_in_production_with_a_real_secret() -> None:
    settings = DemoSettings(token_hash_key=SecretStr("s3cr3t-from-the-environment"))

    assert settings.environment is Environment.production


def test_real_secret_from_the_prefixed_variable_is_used_in_production(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DEMO_TOKEN_HASH_KEY", "s3cr3t-from-the-environment")

    settings = DemoSettings()

    assert settings.token_hash_key.get_secret_value() == "s3cr3t-from-the-environment"


def test_environment_comes_from_the_prefixed_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_ENVIRONMENT", "development")
    monkeypatch.setenv("DEMO_HTTP_PORT", "8123")
    monkeypatch.setenv("DEMO_KAFKA_BOOTSTRAP_SERVERS", "kafka-1:9092,kafka-2:9092")

    settings = DemoSettings()

    assert settings.environment is Environment.development
    assert settings.http_port == 8123
    assert settings.kafka_bootstrap_servers == "kafka-1:9092,kafka-2:9092"


def test_unprefixed_variables_belong_to_nobody(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "development")
    monkeypatch.setenv("TOKEN_HASH_KEY", "s3cr3t-from-the-environment")
    monkeypatch.setenv("HTTP_PORT", "8123")

    with pytest.raises(DevelopmentSecretOutsideDevelopment, match="DEMO_TOKEN_HASH_KEY"):
        DemoSettings()
    assert DemoSettings(environment=Environment.development).http_port == 8000


def test_settings_are_frozen() -> None:
    settings = DemoSettings(environment=Environment.development)

    with pytest.raises(ValidationError):
        settings.http_port = 9000  # type: ignore[misc]


def test_heartbeats_must_fit_three_times_into_the_session() -> None:
    with pytest.raises(ConfigurationError) as caught:
        DemoSettings(
            environment=Environment.development, kafka_session_timeout_ms=6000, kafka_heartbeat_interval_ms=3000
        )

    assert "DEMO_KAFKA_HEARTBEAT_INTERVAL_MS (3000)" in str(caught.value)
    assert "DEMO_KAFKA_SESSION_TIMEOUT_MS (6000)" in str(caught.value)
    assert (
        DemoSettings(environment=Environment.development, kafka_heartbeat_interval_ms=2000).kafka_session_timeout_ms
        == 6000
    )


# k: one setting name every service reads, so the form's promise and the figures agree.

K_SERVICES = [
    ("wellpulse.intake.settings", "IntakeSettings", "INTAKE_"),
    ("wellpulse.alerts.settings", "AlertsSettings", "ALERTS_"),
    ("wellpulse.reporting.settings", "ReportingSettings", "REPORTING_"),
]


def _settings(module: str, name: str) -> Any:
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize(("module", "name", "prefix"), K_SERVICES)
def test_every_service_reads_k_from_the_one_shared_variable(
    monkeypatch: pytest.MonkeyPatch, module: str, name: str, prefix: str
) -> None:
    monkeypatch.delenv(MIN_GROUP_SIZE_VARIABLE, raising=False)
    assert _settings(module, name)(environment="development").min_group_size == 5
    monkeypatch.setenv(MIN_GROUP_SIZE_VARIABLE, "11")
    assert _settings(module, name)(environment="development").min_group_size == 11


@pytest.mark.parametrize("value", ["2", "21", "five"])
def test_k_outside_3_to_20_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(MIN_GROUP_SIZE_VARIABLE, value)
    with pytest.raises(ValidationError, match=MIN_GROUP_SIZE_VARIABLE):
        _settings(*K_SERVICES[2][:2])(environment="development")


@pytest.mark.parametrize(("module", "name", "prefix"), K_SERVICES)
def test_the_old_per_service_k_is_refused_not_silently_ignored(
    monkeypatch: pytest.MonkeyPatch, module: str, name: str, prefix: str
) -> None:
    monkeypatch.setenv(f"{prefix}MIN_GROUP_SIZE", "10")
    with pytest.raises(
        ConfigurationError, match=f"{prefix}MIN_GROUP_SIZE is no longer read.*{MIN_GROUP_SIZE_VARIABLE}"
    ):
        _settings(module, name)(environment="development")
