"""The command line: ``aiosio serve module:attr``, ``aiosio demo``; ``python -m aiosio`` too.

``serve`` imports ``attr`` from ``module`` (the working directory is on ``sys.path``, as
for uvicorn) and serves it with the standalone server: an :class:`aiosio.Server`, the
ASGI app of one (``io.asgi_app(...)``), or an application that mounts one. Any other ASGI
application is handed to uvicorn when it is installed. ``--workers N`` runs N processes
behind the sticky front of :mod:`aiosio.workers`. SIGINT and SIGTERM stop the server
cleanly: it stops accepting, every open connection is closed ("server shutting down" for
its sockets), and the process exits 0.

``--reload`` (for development) runs the server in a child process and restarts it when a
``.py`` file under the watched folders changes; it polls modification times, so it needs no
extra dependency.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from aiosio.app import Server
from aiosio.logs import LEVELS, configure
from aiosio.serve.asgi_app import AppFront
from aiosio.serve.lifespan import Lifespan, LifespanError
from aiosio.serve.options import add_app_options, app_settings, listen_of
from aiosio.serve.run import Listen, run_server
from aiosio.server.collector import freeze_after_startup
from aiosio.targets import TargetError, find_served, load_target, server_of

__all__ = ["TargetError", "load_target", "main", "reload_command", "server_of", "snapshot"]

logger = logging.getLogger("aiosio.cli")

_SKIPPED = frozenset({".git", ".venv", "venv", "node_modules", "__pycache__", ".mypy_cache"})
RELOAD_INTERVAL = 0.5  # seconds between two scans of the watched folders
STOP_TIMEOUT = 10.0  # seconds a child server gets to stop before it is killed


# -- running ------------------------------------------------------------------------------


def _wants_uvloop(choice: bool | None) -> bool:
    if choice is False:
        return False
    found = importlib.util.find_spec("uvloop") is not None
    if choice and not found:
        raise TargetError("--uvloop: uvloop is not installed (pip install aiosio[fast])")
    return found


Ready = Callable[[str], None]


def run(
    io: Server,
    host: str,
    port: int,
    *,
    use_uvloop: bool,
    ready: Ready | None = None,
    listen: Listen | None = None,
    front: AppFront | None = None,
    lifespan: Lifespan | None = None,
) -> None:
    """Serve ``io`` until SIGINT or SIGTERM; ``ready`` gets the URL once it listens.

    With ``front``, its ASGI application is served beside Socket.IO (``lifespan`` run
    around it); ``listen`` overrides ``host``/``port`` (a Unix socket, TLS).
    """
    where = listen or Listen(host, port)
    loop_name = "uvloop" if use_uvloop else "asyncio"

    def listening(url: str) -> None:
        # As io.run() does: what start-up made (the application's and its framework's
        # objects too) is collected once, then never walked by the collector again.
        freeze_after_startup()
        if ready is not None:
            ready(url)

    main = run_server(
        io, where, front=front, lifespan=lifespan, loop_name=loop_name, ready=listening
    )
    if use_uvloop:
        import uvloop

        uvloop.run(main)
    else:
        asyncio.run(main)


def _run_foreign(app: Any, args: argparse.Namespace, use_uvloop: bool) -> int:
    try:
        import uvicorn
    except ImportError:
        logger.error("%s is not an aiosio server; install uvicorn to serve it", args.target)
        return 1
    uvicorn.run(
        app,  # an import string with workers, as uvicorn wants it
        host=args.host,
        port=args.port,
        loop="uvloop" if use_uvloop else "asyncio",
        log_level=args.log_level,
        workers=args.workers,
    )
    return 0


# -- --reload -----------------------------------------------------------------------------


def snapshot(folders: Iterable[Path]) -> dict[Path, int]:
    """Modification times of the ``.py`` files under ``folders``."""
    found: dict[Path, int] = {}
    for folder in folders:
        for root, dirs, files in os.walk(folder):
            dirs[:] = [name for name in dirs if name not in _SKIPPED and not name.startswith(".")]
            for name in files:
                if name.endswith(".py"):
                    path = Path(root, name)
                    try:
                        found[path] = path.stat().st_mtime_ns
                    except OSError:  # removed while we looked
                        continue
    return found


def _stop_child(child: subprocess.Popen[bytes]) -> int:
    if child.poll() is None:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            logger.warning("the server did not stop in %.0f s; killing it", STOP_TIMEOUT)
            child.kill()
    return child.wait()


def reload_loop(command: Sequence[str], folders: Sequence[Path]) -> int:
    """Run ``command`` and restart it whenever a watched file changes; stop on a signal."""
    stopping = False

    def on_signal(signum: int, frame: Any) -> None:
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        logger.info("watching %s for changes", ", ".join(str(folder) for folder in folders))
        seen = snapshot(folders)
        child = subprocess.Popen(command)
        while not stopping:
            time.sleep(RELOAD_INTERVAL)
            current = snapshot(folders)
            if current == seen:
                continue
            changed = sorted({*current.items()} ^ {*seen.items()})
            logger.info("%s changed: restarting", changed[0][0])
            seen = current
            _stop_child(child)
            child = subprocess.Popen(command)
        return _stop_child(child)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def reload_command(argv: Sequence[str]) -> list[str]:
    """The command of the child server: this one without its ``--reload`` options."""
    kept = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--reload":
            continue
        elif arg == "--reload-dir":
            skip = True
        elif not arg.startswith("--reload-dir="):
            kept.append(arg)
    return [sys.executable, "-m", "aiosio", *kept]


# -- the commands -------------------------------------------------------------------------


def _run_workers(args: argparse.Namespace) -> int:
    """Hand ``--workers N`` to :mod:`aiosio.workers` (sticky front process + N servers)."""
    if importlib.util.find_spec("aiosio.workers") is None:
        raise TargetError(f"--workers {args.workers}: this aiosio has no multi-process runner")
    if args.reload:
        raise TargetError("--workers > 1 cannot be combined with --reload")
    workers: Any = importlib.import_module("aiosio.workers")
    status: int = workers.run_parsed(args)
    return status


def _serve_command(args: argparse.Namespace, argv: Sequence[str]) -> int:
    if args.workers < 1:
        raise TargetError(f"--workers {args.workers}: at least 1")
    if args.workers > 1:
        target = load_target(args.target)
        if server_of(target) is None and find_served(target) is None:
            return _run_foreign(args.target, args, _wants_uvloop(args.uvloop))
        return _run_workers(args)
    if args.reload:
        folders = [Path(folder).resolve() for folder in args.reload_dir or [os.getcwd()]]
        return reload_loop(reload_command(argv), folders)
    use_uvloop = _wants_uvloop(args.uvloop)
    target = load_target(args.target)
    server_of(target)  # a TargetError for what is not callable at all
    served = find_served(target)
    if served is None:
        return _run_foreign(target, args, use_uvloop)
    io = served.io
    if args.metrics_path:
        from aiosio import metrics

        metrics.enable(io, args.metrics_path)
    front, lifespan = app_settings(io, served.app, served.prefix, args)
    try:
        run(
            io,
            args.host,
            args.port,
            use_uvloop=use_uvloop,
            listen=listen_of(args),
            front=front,
            lifespan=lifespan,
        )
    except LifespanError as exc:
        logger.error("application startup failed: %s", exc)
        return 3
    return 0


def _demo_command(args: argparse.Namespace) -> int:
    from aiosio import demo
    from aiosio.admin import find_admin_ui
    from aiosio.server.router import find_client_bundle

    use_uvloop = _wants_uvloop(args.uvloop)
    credentials = {"type": "basic", "username": args.admin_user, "password": args.admin_password}
    io = demo.create_server(
        admin_auth=credentials,
        admin_ui=not args.no_admin,
        metrics_path=args.metrics_path or None,
    )
    if find_client_bundle() is None:
        logger.warning(
            "socket.io-client is not installed, the page cannot load /socket.io/socket.io.js: "
            "run `make env` (or `npm ci` in examples/chat)"
        )
    admin_ui = not args.no_admin and find_admin_ui() is not None

    def ready(url: str) -> None:
        logger.info("chat demo: %s/", url)
        if admin_ui:
            logger.info(
                "Admin UI: %s/admin-ui/ (user %r, password %r)",
                url,
                args.admin_user,
                args.admin_password,
            )
        if args.metrics_path:
            logger.info("metrics: %s%s", url, args.metrics_path)

    run(io, args.host, args.port, use_uvloop=use_uvloop, ready=ready)
    return 0


def _document_command(args: argparse.Namespace) -> int:
    """``aiosio asyncapi`` / ``aiosio typescript``: a server's typed events, written out."""
    io = server_of(load_target(args.target))
    if io is None:
        raise TargetError(f"{args.target} is not an aiosio server")
    if args.command == "asyncapi":
        import json

        document = io.asyncapi(title=args.title, version=args.doc_version)
        text = json.dumps(document, indent=2) + "\n"
    else:
        from aiosio.typed.typescript import declarations

        text = declarations(io, source=args.target)
    if args.output in (None, "-"):
        sys.stdout.write(text)
    else:
        try:
            Path(args.output).write_text(text)
        except OSError as exc:
            raise TargetError(f"cannot write {args.output}: {exc}") from exc
    return 0


def _common(parser: argparse.ArgumentParser, port: int) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=port, help=f"port, 0 for any ({port})")
    parser.add_argument(
        "--uvloop",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run on uvloop (default: when it is installed)",
    )
    parser.add_argument("--log-level", choices=LEVELS, default="info")
    parser.add_argument("--log-format", choices=("text", "json"), default="text")


def _version() -> str:
    """The installed distribution's version (what pip and bug reports speak of)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("aiosio")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def make_parser() -> argparse.ArgumentParser:
    """The argument parser of ``aiosio``."""
    parser = argparse.ArgumentParser(prog="aiosio", description="aiosio: Socket.IO for asyncio")
    parser.add_argument("--version", action="version", version=f"aiosio {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve an aiosio.Server or ASGI app")
    serve.add_argument("target", help="module:attribute, such as myapp:io")
    _common(serve, 3000)
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes, each importing the target and running the app's lifespan, "
        "behind a front process on the port. Socket.IO across workers needs sticky "
        "sessions or WebSocket-only clients: the front keeps each long-polling session on "
        "its worker (by session id); broadcasts need a cluster adapter (Redis) (1)",
    )
    serve.add_argument("--reload", action="store_true", help="restart when a .py file changes")
    serve.add_argument(
        "--reload-dir", action="append", metavar="DIR", help="folder to watch (repeatable; cwd)"
    )
    serve.add_argument(
        "--metrics-path", help="serve Prometheus metrics at this path (each worker: ?worker=N)"
    )
    add_app_options(serve)

    demo = commands.add_parser("demo", help="the chat demo, its Admin UI and metrics")
    _common(demo, 3000)
    demo.add_argument("--admin-user", default="admin")
    demo.add_argument("--admin-password", default="admin")
    demo.add_argument("--no-admin", action="store_true", help="no Admin UI")
    demo.add_argument("--metrics-path", default="/metrics", help="'' for none (/metrics)")

    for name, what in (("asyncapi", "AsyncAPI 3.0 document"), ("typescript", ".d.ts")):
        typed = commands.add_parser(name, help=f"the {what} of a server's typed events")
        typed.add_argument("target", help="module:attribute, such as myapp:io")
        typed.add_argument("-o", "--output", help="the file to write (standard output)")
        typed.add_argument("--log-level", choices=LEVELS, default="warning")
        typed.add_argument("--log-format", choices=("text", "json"), default="text")
        if name == "asyncapi":
            typed.add_argument("--title", default="aiosio application")
            typed.add_argument("--doc-version", default="1.0.0", help="the API's version")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = make_parser().parse_args(argv)
    configure(args.log_level, args.log_format)
    try:
        if args.command == "serve":
            return _serve_command(args, argv)
        if args.command in ("asyncapi", "typescript"):
            return _document_command(args)
        return _demo_command(args)
    except TargetError as exc:
        logger.error("%s", exc)
        return 2
    except OSError as exc:
        logger.error("cannot serve on %s:%s: %s", args.host, args.port, exc)
        return 1
