"""``flowker serve``: the front door, the embedded store and a Ray cluster, in one command."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import secrets
import signal
import socket
import sys
from pathlib import Path

from aiohttp import web

from flowker import __version__, audit_offline, live_cli
from flowker.actors import cluster
from flowker.actors.cluster_hosts import hosts, refusal
from flowker.actors.config import RuntimeConfig
from flowker.actors.runtime import RayRuntime
from flowker.bootstrap import build_services
from flowker.domain.outbound import OutboundPolicy
from flowker.domain.sandbox_configs import sandbox_base_url
from flowker.errors import ConfigError, StoreUnavailable, TelemetryRefused
from flowker.http.app import create_app
from flowker.http.tls import server_context
from flowker.secretbox import SecretBox, load_secret_key, write_private
from flowker.settings import Settings
from flowker.signing_key import load_signing_key
from flowker.store.opening import location_from, open_store
from flowker.telemetry import logs, tracing
from flowker.usecases.sandbox import SandboxConfig, ensure_sandbox_configs, ensure_sandbox_provider_configs

API_KEY_FILE = "api-key"
log = logging.getLogger("flowker")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``flowker`` command."""
    parser = argparse.ArgumentParser(
        prog="flowker", description="Workflow orchestration for financial services."
    )
    parser.add_argument("--version", action="version", version=f"flowker {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the API service (embedded store, local or joined Ray)")
    serve.add_argument("--host", help="address to listen on (FLOWKER_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (FLOWKER_PORT, default 4021; 0 picks one)")
    serve.add_argument("--data-dir", type=Path, help="data directory (FLOWKER_DATA_DIR, default ./.flowker)")
    serve.add_argument("--ray-address", help="join this Ray cluster (RAY_ADDRESS) instead of starting one")
    serve.add_argument(
        "--tls-cert", type=Path, help="serve HTTPS with this PEM certificate chain (FLOWKER_TLS_CERT)"
    )
    serve.add_argument("--tls-key", type=Path, help="the certificate's PEM private key (FLOWKER_TLS_KEY)")
    serve.add_argument(
        "--sandbox",
        action="store_true",
        default=None,
        help="serve simulated providers under /sandbox and create configurations using them "
        "(FLOWKER_SANDBOX; development mode only; docs/sandbox.md)",
    )
    audit = commands.add_parser("audit", help="work with the audit log offline")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_commands.add_parser(
        "verify",
        help="verify a GET /v1/audit/export file with no service: chain, tree, checkpoint signatures",
        description="Exit status: 0 when everything checked holds, 1 when not, 2 for unusable input.",
    )
    verify.add_argument("file", type=Path, help="the export (NDJSON)")
    verify.add_argument(
        "--checkpoint",
        type=Path,
        metavar="NOTE_FILE",
        help="a signed checkpoint kept earlier, to hold the log to",
    )
    verify.add_argument(
        "--public-key",
        type=Path,
        metavar="KEY_FILE",
        help="the verifier key as GET /v1/audit/public-key gives it (checks the checkpoints' signatures)",
    )
    _add_live_commands(commands)
    args = parser.parse_args(argv)
    if args.command in ("ps", "executions"):
        return live_cli.run(args.command, args.url, args.data_dir, getattr(args, "id", None), args.json)
    if args.command == "audit":
        return audit_offline.main(args.file, args.checkpoint, args.public_key)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env(
            host=args.host,
            port=args.port,
            data_dir=args.data_dir,
            ray_address=args.ray_address,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            sandbox=args.sandbox,
        )
        logs.configure(settings.log_format, role="front-door")
        return asyncio.run(serve_forever(settings))
    except TelemetryRefused as exc:
        print(f"flowker: {exc}", file=sys.stderr)
        return 1
    except ConfigError as exc:
        print(f"flowker: {exc}", file=sys.stderr)
        return 2
    except StoreUnavailable as exc:
        # At start only (later an outage is a 503 per request): the service manager starts it again.
        print(f"flowker: the store cannot be reached: {exc}", file=sys.stderr)
        return 1


def _add_live_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--url", help="the API's base URL (FLOWKER_URL; default http://FLOWKER_HOST:FLOWKER_PORT)"
        )
        parser.add_argument(
            "--data-dir",
            type=Path,
            help="where the API key file is, unless FLOWKER_API_KEY is set (FLOWKER_DATA_DIR)",
        )
        parser.add_argument("--json", action="store_true", help="print the API's JSON instead of a table")

    common(commands.add_parser("ps", help="list the executions running now, cluster-wide (through the API)"))
    executions = commands.add_parser("executions", help="look at executions (through the API)")
    executions_commands = executions.add_subparsers(dest="executions_command", required=True)
    show = executions_commands.add_parser("show", help="one execution with its step timeline")
    show.add_argument("id", help="the execution's id")
    common(show)


def api_keys_for(settings: Settings) -> tuple[tuple[str, ...], str]:
    """The keys to accept and how to tell the operator about them.

    With no ``FLOWKER_API_KEYS`` the data directory's key is used, generated on first start. The key is
    shown once, when it is generated; later starts only say where it is kept, so that logs collected
    from every start do not all hold it.
    """
    if settings.api_keys:
        return settings.api_keys, f"{len(settings.api_keys)} key(s) from FLOWKER_API_KEYS"
    path = settings.data_dir / API_KEY_FILE
    generated = not path.exists()
    if generated:
        write_private(path, secrets.token_urlsafe(32) + "\n")
    key = path.read_text().strip()
    if len(key) < 16:
        raise ConfigError(f"{path} holds a key shorter than 16 characters")
    if generated:
        return (key,), f"{key}  (generated now and shown only this once; kept in {path}, mode 0600)"
    return (key,), f"kept in {path} (mode 0600)"


def runtime_config(settings: Settings, prefix: str = "") -> RuntimeConfig:
    """What the actors are created with."""
    return RuntimeConfig.from_settings(settings, prefix)


async def serve_forever(settings: Settings) -> int:
    """Run until SIGINT or SIGTERM, then stop accepting, drain in-flight requests and close."""
    # The directory holds the API key, the secret key and the database: the owner's alone.
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    keys, key_note = api_keys_for(settings)
    secret_key = load_secret_key(settings.data_dir, settings.secret_key)
    signer = load_signing_key(settings.data_dir, settings.audit_signing_key, settings.audit_log_origin)
    # Before Ray starts: a bad certificate stops the service at once.
    tls = (
        server_context(settings.tls_cert, settings.tls_key)
        if settings.tls_cert and settings.tls_key
        else None
    )
    # In sandbox mode the port is taken now, before the actors start (it opens later): they must know the
    # origin of the sandbox they call, so that exactly it is reached without the loopback warning.
    bound = _bind(settings.host, settings.port) if settings.sandbox else None
    if bound is not None:
        settings = dataclasses.replace(settings, port=bound.getsockname()[1])
    location = location_from(settings)
    tracing.setup(settings.otel_enabled, settings.otel_endpoint, settings.otel_service_name, "front-door")
    store = await open_store(location)
    try:
        # On the loop's thread, before anything else runs: Ray installs its signal handlers only there.
        info = cluster.connect(settings.ray_address)
        logs.configure(settings.log_format, node_id=cluster.node_id())
        reason = refusal(info.nodes, location.shared_across_hosts)
        if reason is not None:
            raise ConfigError(reason)
        runtime = RayRuntime(
            runtime_config(settings), secret_key, signer, store_uri=settings.mongo_uri, store=store
        )
        # Before the port opens: executions a previous run left unfinished resume now.
        runtime.start_pool()
        services = build_services(
            store,
            SecretBox.from_text(secret_key),
            runtime,
            execution_timeout_seconds=settings.execution_timeout_seconds,
            webhook_dedup_seconds=settings.webhook_dedup_seconds,
            extra_checks={"ray": cluster.check, "cluster": cluster.fits(location.shared_across_hosts)},
            outbound=OutboundPolicy.of(settings.production, settings.outbound_allow, settings.sandbox_origin),
            verifier_key=signer.verifier(),
        )
        runner = web.AppRunner(
            create_app(settings, services, keys),
            shutdown_timeout=settings.shutdown_grace_seconds,
            access_log=None,
        )
        await runner.setup()
        site = (
            web.SockSite(runner, bound, ssl_context=tls)
            if bound is not None
            else web.TCPSite(runner, settings.host, settings.port, ssl_context=tls)
        )
        try:
            await site.start()
        except OSError as exc:
            raise ConfigError(f"cannot listen on {settings.host}:{settings.port}: {exc.strerror}") from None
        host, port = runner.addresses[0][:2]
        scheme = "https" if tls else "http"
        # Before the banner: once it is printed, the sandbox's configurations exist.
        origin = settings.sandbox_origin
        sandbox = sandbox_base_url(scheme, *origin) if origin else None
        made = []
        if sandbox:
            made = await ensure_sandbox_configs(services.executor_configs, sandbox)
            made += await ensure_sandbox_provider_configs(services.provider_configs, sandbox)
        print(f"Flowker {__version__} listening on {scheme}://{host}:{port}", flush=True)
        if settings.production:
            print("Mode: production (HTTPS only)", flush=True)
        if sandbox:
            print(f"Sandbox: on, simulated providers at {sandbox} (docs/sandbox.md)", flush=True)
            print(f"Sandbox configurations: {sandbox_summary(made, sandbox)}", flush=True)
        print(f"API key: {key_note}", flush=True)
        print(f"Store: {location.describe()}", flush=True)
        print(f"Ray cluster: {info.alive_nodes} node(s) on {len(hosts(info.nodes))} host(s)", flush=True)
        dashboard = info.dashboard_url or "not available (joined cluster without a dashboard)"
        if info.dashboard_url and info.token_file:
            dashboard += f"  (sign-in token in {info.token_file})"
        print(f"Ray dashboard: {dashboard}", flush=True)
        print(f"Data directory: {settings.data_dir.resolve()}", flush=True)
        await _wait_for_signal()
        print("Shutting down: draining in-flight requests", flush=True)
        services.draining = True
        await runner.cleanup()
        await runtime.close()
    finally:
        await asyncio.to_thread(tracing.flush)
        await store.close()
        await asyncio.to_thread(cluster.disconnect)
        if bound is not None:
            bound.close()
    print("Stopped", flush=True)
    return 0


def sandbox_summary(configs: list[SandboxConfig], base_url: str) -> str:
    """One line naming each sandbox configuration: created now, moved here from a previous start's port,
    or kept (and where a kept one points when that is not this start's sandbox)."""
    parts = []
    for config in configs:
        state = config.state
        if config.moved_from is not None:
            state += f" from {config.moved_from}"
        elif not config.base_url.startswith(base_url + "/"):
            state += f", points at {config.base_url}"
        parts.append(f"{config.name} ({state}, id {config.id})")
    return "; ".join(parts) or "none"


def _bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (the first address ``host`` resolves to), not yet listening."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        sock = socket.socket(family, kind, proto)
    except OSError as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return sock


async def _wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
