"""The whole stack: PostgreSQL, a broker, the development issuer and the four services; the
database and broker from the environment when given (``DATABASE_URL``, ``KAFKA_BOOTSTRAP_SERVERS``),
otherwise started here on loopback."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from wellpulse.devstack.embedded import EmbeddedPostgres, EmbeddedTansu
from wellpulse.devstack.issuer import AUDIENCE, DASHBOARD_CLIENT_ID, DASHBOARD_CLIENT_SECRET, DevIssuer
from wellpulse.devstack.processes import SERVICES, ServiceProcess

# Where the reporting dashboard's sign-in comes back to (its REPORTING_PUBLIC_URL + this).
DASHBOARD_CALLBACK = "/dashboard/auth/callback"


@dataclass
class Infrastructure:
    database_url: str
    kafka_bootstrap: str
    # Tansu rejects idempotent producers; Apache Kafka wants them.
    kafka_idempotence: bool
    # The OpenID Connect issuer whose tokens the services accept: a local one, in development.
    issuer: DevIssuer
    postgres: EmbeddedPostgres | None = None
    tansu: EmbeddedTansu | None = None

    @classmethod
    def start(cls, root: Path) -> Infrastructure:
        postgres = tansu = None
        issuer = DevIssuer(root / "issuer", environment="development")
        issuer.start()
        try:
            database_url = os.environ.get("DATABASE_URL")
            if not database_url:
                postgres = EmbeddedPostgres(root / "postgres")
                database_url = postgres.start()
            kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
            if not kafka:
                tansu = EmbeddedTansu(root / "tansu")
                kafka = tansu.start()
        except BaseException:
            if postgres:
                postgres.stop()
            issuer.stop()
            raise
        idempotence = os.environ.get("KAFKA_ENABLE_IDEMPOTENCE", "false" if tansu else "true")
        return cls(database_url, kafka, idempotence.lower() == "true", issuer, postgres, tansu)

    def stop(self) -> None:
        if self.tansu:
            self.tansu.stop()
        if self.postgres:
            self.postgres.stop()
        self.issuer.stop()

    def service_env(self, prefix: str) -> dict[str, str]:
        return {
            f"{prefix}ENVIRONMENT": "development",
            f"{prefix}DATABASE_URL": self.database_url,
            f"{prefix}KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap,
            f"{prefix}KAFKA_ENABLE_IDEMPOTENCE": str(self.kafka_idempotence).lower(),
            f"{prefix}OIDC_ISSUER": self.issuer.url,
            f"{prefix}OIDC_AUDIENCE": AUDIENCE,
            # Small batches and a short outbox interval keep a laptop demo lively.
            f"{prefix}OUTBOX_INTERVAL_SECONDS": "2",
            # The demo and the tests look at the week they have just answered (development only).
            f"{prefix}SHOW_WEEK_IN_PROGRESS": "true",
            # ...and answer weeks gone by, to build a history (development only).
            f"{prefix}ANSWER_PAST_WEEKS": "true",
        }


@dataclass
class Services:
    infrastructure: Infrastructure
    log_dir: Path
    fixed_ports: bool = False
    processes: dict[str, ServiceProcess] = field(default_factory=dict)

    def start(self, extra_env: dict[str, str] | None = None) -> None:
        for spec in SERVICES:
            env = {
                **self.infrastructure.service_env(spec.env_prefix),
                # Static group membership: a restarted service takes its partitions straight back.
                # One replica per service here; this stack's id keeps two stacks on one broker apart.
                f"{spec.env_prefix}KAFKA_GROUP_INSTANCE_ID": f"{spec.name}-{socket.gethostname()}-{os.getpid()}",
                **(extra_env or {}),
            }
            process = ServiceProcess(spec, env, self.log_dir)
            if self.fixed_ports:
                process.port = spec.default_port
            if spec.name == "reporting":
                process.env |= self._dashboard_client(process.url)
            self.processes[spec.name] = process
            process.start()
        # Started together, awaited together: each consumer group join takes seconds on Tansu.
        try:
            for process in self.processes.values():
                process.wait_ready()
        except BaseException:
            self.stop()  # one failed to start: leave none of the others running
            raise

    def _dashboard_client(self, reporting_url: str) -> dict[str, str]:
        """Register the dashboard with the development issuer, for its sign-in to come back to this reporting."""
        self.infrastructure.issuer.register_client(
            DASHBOARD_CLIENT_ID, [reporting_url + DASHBOARD_CALLBACK], DASHBOARD_CLIENT_SECRET
        )
        return {
            "REPORTING_DASHBOARD_CLIENT_ID": DASHBOARD_CLIENT_ID,
            "REPORTING_DASHBOARD_CLIENT_SECRET": DASHBOARD_CLIENT_SECRET,
        }

    def url(self, name: str) -> str:
        return self.processes[name].url

    def stop(self) -> None:
        for process in self.processes.values():
            process.stop()
