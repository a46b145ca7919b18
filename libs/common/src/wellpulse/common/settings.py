"""Settings shared by every service: one pydantic-settings class per process, one env prefix each."""

import os
from enum import StrEnum
from typing import Any, Self

from pydantic import Field, PostgresDsn, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The only secret values that ship in the repository. A service refuses to start with one of
# them unless it runs in development, so a forgotten variable can never reach production.
DEVELOPMENT_SECRETS = frozenset({"development-only-not-a-secret"})


class ConfigurationError(RuntimeError):
    """A setting stops the service from starting; the message names it and says what to set.

    Not a ValueError: pydantic would wrap that and print every input, real secrets too.
    """


class DevelopmentSecretOutsideDevelopment(ConfigurationError):
    """A secret still has the value that ships in the repository, outside development."""


class Environment(StrEnum):
    development = "development"
    production = "production"


class ServiceSettings(BaseSettings):
    """Fields every service has. Subclasses set ``env_prefix`` (``SCORING_``, ``ALERTS_``...)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    environment: Environment = Environment.production
    kafka_bootstrap_servers: str = "localhost:9092"
    # Apache Kafka: on. Tansu (the embedded broker) fails idempotent producers at start, so the
    # embedded stack turns it off; consumers are idempotent on the event id either way.
    kafka_enable_idempotence: bool = True
    kafka_client_id: str | None = None
    kafka_partitions: int = Field(default=6, ge=1)
    kafka_publish_timeout_seconds: float = Field(default=10.0, gt=0)
    # The most records one batch (one transaction) takes. Batches are only this large while a
    # backlog is being worked off; measured on a 2,000-response backlog, 2,000 cost scoring 0.06 ms
    # of CPU a response where 500 cost 0.145 ms (bench/README.md).
    consumer_batch_size: int = Field(default=2000, ge=1, le=10_000)
    # Consumer groups. A member silent for the session timeout is evicted and its partitions handed
    # on: 6 s is Apache Kafka's lowest default (group.min.session.timeout.ms), so a crashed replica
    # holds its partitions for seconds, not aiokafka's 10 s (plus the rejoin). Heartbeats every
    # second tell the live members of a rebalance soon. A stable group instance id per replica
    # (static membership, KIP-345) lets a restarted replica take its place back without a rebalance.
    kafka_session_timeout_ms: int = Field(default=6000, ge=1000, le=300_000)
    kafka_heartbeat_interval_ms: int = Field(default=1000, ge=100)
    kafka_group_instance_id: str | None = Field(default=None, min_length=1, max_length=249)
    database_url: PostgresDsn = PostgresDsn("postgresql://wellpulse@localhost:5432/wellpulse")
    database_pool_size: int = Field(default=5, ge=1)
    migrate_on_start: bool = True
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    # Request size caps (413, 414, 431): a pulse answer is a few KiB; routes that take a file have their own.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    max_url_bytes: int = Field(default=8 * 1024, ge=1024)
    max_header_bytes: int = Field(default=32 * 1024, ge=4096)
    otel_exporter_otlp_endpoint: str | None = None
    log_level: str = "INFO"

    @model_validator(mode="after")
    def _heartbeats_within_the_session(self) -> Self:
        if self.kafka_heartbeat_interval_ms * 3 > self.kafka_session_timeout_ms:
            prefix = self.model_config.get("env_prefix", "")
            raise ConfigurationError(
                f"{prefix}KAFKA_HEARTBEAT_INTERVAL_MS ({self.kafka_heartbeat_interval_ms}) must be at most a third of "
                f"{prefix}KAFKA_SESSION_TIMEOUT_MS ({self.kafka_session_timeout_ms}), or one late heartbeat evicts "
                "a live consumer"
            )
        return self

    @model_validator(mode="after")
    def _no_default_secrets_outside_development(self) -> Self:
        if self.environment is Environment.development:
            return self
        prefix = self.model_config.get("env_prefix", "")
        offending = [
            f"{prefix}{name.upper()}"
            for name, value in self
            if isinstance(value, SecretStr) and value.get_secret_value() in DEVELOPMENT_SECRETS
        ]
        if offending:
            raise DevelopmentSecretOutsideDevelopment(
                f"{', '.join(offending)} still has the development default; set a real secret "
                f"in the environment, or set {prefix}ENVIRONMENT=development on a laptop"
            )
        return self

    @property
    def database_dsn(self) -> str:
        return str(self.database_url)


# k, the smallest number of people any figure, alert or promise may be about. One name for every
# service, so the k the form promises staff is the k reporting and alerts apply.
MIN_GROUP_SIZE_VARIABLE = "WELLPULSE_MIN_GROUP_SIZE"


class GroupSizeSettings(ServiceSettings):
    """``WELLPULSE_MIN_GROUP_SIZE`` (3–20, default 5), read by every service that shows or promises k."""

    model_config = SettingsConfigDict(populate_by_name=True)

    min_group_size: int = Field(default=5, ge=3, le=20, validation_alias=MIN_GROUP_SIZE_VARIABLE)

    @model_validator(mode="before")
    @classmethod
    def _no_per_service_k(cls, data: Any) -> Any:
        # The per-service name was read once; ignoring it silently could lower a k someone raised.
        old = f"{cls.model_config.get('env_prefix', '')}MIN_GROUP_SIZE".upper()
        if any(name.upper() == old for name in os.environ):
            raise ConfigurationError(
                f"{old} is no longer read: k is one setting for every service. "
                f"Set {MIN_GROUP_SIZE_VARIABLE} instead (3 to 20) and remove {old}"
            )
        return data


class SmtpSettings(ServiceSettings):
    """The mail server a service sends through (``<PREFIX>SMTP_*``); unset host: it sends no email."""

    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    smtp_use_tls: bool = False
    smtp_timeout_seconds: float = Field(default=30.0, gt=0)
