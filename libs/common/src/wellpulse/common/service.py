"""The shape every service process shares: settings in, one FastAPI app out, nothing at import.

A service hands ``service_app`` its broker (subscribers and publishers already declared), its
routers and its readiness checks; the lifespan here migrates, connects, starts and stops them.
A service whose settings name an OIDC issuer gets the shared token checking (``app.state``);
one with pages for a signed-in browser also hands in its sessions and the pages its errors get.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import anyio.lowlevel
import uvicorn
from fastapi import APIRouter, FastAPI
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from wellpulse.common.auth.authenticator import Authenticator
from wellpulse.common.auth.dependencies import BrowserSessions, OrgTree
from wellpulse.common.auth.settings import OidcSettings
from wellpulse.common.db import Database
from wellpulse.common.http import ErrorPages, install_problem_handlers
from wellpulse.common.kafka import ensure_topics, start_broker
from wellpulse.common.limits import BodyLimit, BodyLimits, bounded_http_protocol
from wellpulse.common.migrations import apply_migrations
from wellpulse.common.openapi import document_answers
from wellpulse.common.settings import ConfigurationError, ServiceSettings
from wellpulse.common.telemetry import ReadinessCheck, Telemetry, health_router

log = logging.getLogger(__name__)

S = TypeVar("S", bound=ServiceSettings)


def service_app(
    *,
    service: str,
    settings: ServiceSettings,
    telemetry: Telemetry,
    broker: KafkaBroker,
    database: Database | None,
    routers: Sequence[APIRouter] = (),
    # Jobs that run beside the subscribers until shutdown (e.g. an outbox relay).
    background: Sequence[Callable[[], Coroutine[Any, Any, None]]] = (),
    readiness: Mapping[str, ReadinessCheck] | None = None,
    # The tree scope checks climb (the service's own projection of org.units).
    org_tree: OrgTree | None = None,
    # Sessions of signed-in browsers (``SessionUser``), and the HTML its pages' errors are answered with.
    sessions: BrowserSessions | None = None,
    error_pages: ErrorPages | None = None,
    # Larger body caps for the routes that take a file: (method, path) -> bytes.
    body_caps: Mapping[tuple[str, str], int] | None = None,
    description: str = "",
) -> FastAPI:
    authenticator = Authenticator(settings, service, telemetry.registry) if isinstance(settings, OidcSettings) else None

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            stack.callback(telemetry.shutdown)
            if authenticator is not None:
                stack.push_async_callback(authenticator.close)
            if database is not None:
                await database.open(settings)
                stack.push_async_callback(database.close)
            await ensure_topics(settings)
            stack.push_async_callback(broker.stop)  # also stops the groups joined if another fails
            # What start-up built (modules, the app, the bank) lives as long as the process: keep it
            # out of the cyclic collector's full passes, each of which walked all of it (~0.1 s in
            # scoring, landing in the middle of a batch).
            # FastStream's first batch would otherwise import anyio's asyncio backend, a fifth of a
            # second measured in the middle of scoring's first batch: load it now.
            await anyio.lowlevel.checkpoint()
            gc.freeze()
            await start_broker(broker)
            for job in background:
                task = asyncio.create_task(job(), name=f"{service}-{job.__name__}")
                stack.push_async_callback(_cancel, task)
            log.info("%s started", service)
            yield

    async def broker_ping() -> None:
        if not await broker.ping(timeout=2.0):
            raise ConnectionError("the Kafka broker does not answer")

    checks: dict[str, ReadinessCheck] = {"kafka": broker_ping}
    if database is not None:
        checks["database"] = database.ping
    checks.update(readiness or {})

    app = FastAPI(
        title=f"WellPulse {service}",
        version="0.1.0",
        description=description,
        lifespan=lifespan,
    )
    app.state.authenticator = authenticator
    app.state.org_tree = org_tree
    app.state.sessions = sessions
    app.add_middleware(BodyLimit, limits=BodyLimits(settings.max_body_bytes, dict(body_caps or {})))
    health = health_router(telemetry, checks)
    app.include_router(health)
    for router in routers:
        app.include_router(router)

    asyncapi = AsyncAPI(broker, title=f"WellPulse {service} events", version="0.1.0")

    @app.get("/asyncapi.json", tags=["operations"], summary="Event contracts (AsyncAPI 3.0)")
    async def asyncapi_document() -> Any:
        return asyncapi.to_specification().to_jsonable()

    install_problem_handlers(app, [route for router in (health, *routers) for route in router.routes], error_pages)
    document_answers(app, routers)
    return app


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@dataclass(frozen=True)
class Command(Generic[S]):
    """A service's own command beside ``serve`` and ``migrate`` (reporting's ``rebuild``)."""

    name: str
    help: str  # one line, in the list of commands
    description: str  # the command's own --help
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[S, argparse.Namespace], int]  # returns the exit status


def run_cli(
    service: str,
    settings_type: type[S],
    build: Callable[[S], FastAPI],
    schema: str | None,
    migrations: Path | None,
    commands: Sequence[Command[S]] = (),
) -> None:
    """``wellpulse-<service> serve`` runs the process; ``migrate`` applies its schema and exits;
    ``commands`` are the service's own."""
    parser = argparse.ArgumentParser(prog=f"wellpulse-{service}")
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="command")
    subcommands.add_parser("serve", help="run the service: its consumers and its HTTP API")
    subcommands.add_parser("migrate", help="apply the pending migrations of its database schema, then exit")
    own = {command.name: command for command in commands}
    for command in commands:
        command.arguments(
            subcommands.add_parser(
                command.name,
                help=command.help,
                description=command.description,
                formatter_class=argparse.RawDescriptionHelpFormatter,
            )
        )
    args = parser.parse_args()
    try:
        settings = settings_type()
        logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
        if args.command == "migrate":
            if schema is None or migrations is None:
                parser.exit(0, f"{service} keeps no database schema; nothing to migrate\n")
            applied = apply_migrations(settings.database_dsn, schema, migrations)
            parser.exit(0, f"{service}: {len(applied)} migration(s) applied\n")
        if args.command in own:
            parser.exit(own[args.command].run(settings, args))
        app = build(settings)
    except ConfigurationError as exc:
        parser.exit(2, f"wellpulse-{service}: {exc}\n")
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
        access_log=False,  # request lines name the pulse link and, behind a proxy, an address
        http=bounded_http_protocol(max_url_bytes=settings.max_url_bytes, max_head_bytes=settings.max_header_bytes),
    )
