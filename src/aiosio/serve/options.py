"""The ``aiosio serve`` options for serving an application, named as uvicorn names them.

``--host``, ``--port``, ``--workers`` and ``--reload`` are the command's own (see
:mod:`aiosio.cli`); these are the rest: where to listen (``--uds``, TLS), what the app's
scope says (``--root-path``, proxy headers), the limits (``--timeout-keep-alive``,
``--limit-concurrency``, ``--limit-max-body``), ``--access-log`` and ``--lifespan``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from typing import TYPE_CHECKING, Any

from aiosio.serve.asgi_app import MAX_BODY, AppFront, AppOptions
from aiosio.serve.lifespan import Lifespan
from aiosio.serve.run import Listen, ssl_context

if TYPE_CHECKING:
    from aiosio.server.server import BaseServer

__all__ = ["add_app_options", "app_settings", "listen_of"]


def add_app_options(parser: argparse.ArgumentParser) -> None:
    """Add the application-serving options to ``aiosio serve``'s parser."""
    group = parser.add_argument_group("serving an ASGI application (uvicorn's names)")
    group.add_argument("--uds", metavar="PATH", help="listen on this Unix socket instead")
    group.add_argument("--root-path", default="", help="ASGI root_path of the app ('')")
    _switch(group, "--proxy-headers", "trust X-Forwarded-For/-Proto from --forwarded-allow-ips")
    group.add_argument(
        "--forwarded-allow-ips",
        default=os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        metavar="IPS",
        help="comma-separated addresses or networks trusted for proxy headers, * for any "
        "($FORWARDED_ALLOW_IPS or 127.0.0.1)",
    )
    group.add_argument(
        "--timeout-keep-alive",
        type=float,
        metavar="SECONDS",
        help="close a kept-alive connection idle this long; also bounds a request head (20)",
    )
    group.add_argument(
        "--limit-concurrency",
        type=int,
        metavar="N",
        help="app requests answered at once; 503 beyond (no limit)",
    )
    group.add_argument(
        "--limit-max-body",
        type=int,
        default=MAX_BODY,
        metavar="BYTES",
        help="largest request body sent to the app; 413 beyond (1 GiB)",
    )
    group.add_argument("--ssl-keyfile", metavar="FILE", help="TLS private key (PEM)")
    group.add_argument("--ssl-certfile", metavar="FILE", help="TLS certificate chain (PEM)")
    group.add_argument("--ssl-keyfile-password", metavar="PASSWORD", help="of the key file")
    _switch(group, "--access-log", "log each app request to the aiosio.access logger")
    group.add_argument(
        "--lifespan",
        choices=("auto", "on", "off"),
        default="auto",
        help="run the app's ASGI lifespan: auto (if it has one), on (required), off",
    )


def _switch(group: argparse._ArgumentGroup, flag: str, help: str) -> None:
    """An option on by default, turned off by its ``--no-`` form (uvicorn's switches)."""
    group.add_argument(
        flag, action=argparse.BooleanOptionalAction, default=True, help=f"{help} (on)"
    )


def listen_of(args: argparse.Namespace) -> Listen:
    """Where the parsed options say to listen."""
    context = None
    if args.ssl_certfile:
        context = ssl_context(args.ssl_certfile, args.ssl_keyfile, args.ssl_keyfile_password)
    return Listen(args.host, args.port, args.uds, context)


def app_settings(
    io: BaseServer, app: Any, prefix: str, args: argparse.Namespace
) -> tuple[AppFront | None, Lifespan | None]:
    """Set ``io``'s router up as the options say; the app to serve beside it, if any.

    ``prefix`` is where the app mounts ``io``'s ASGI app: Socket.IO is answered there.
    """
    router = io.router
    if prefix:
        router.mount_at(prefix)
    if args.timeout_keep_alive is not None:
        router.limits = dataclasses.replace(router.limits, header_timeout=args.timeout_keep_alive)
    if app is None:
        return None, None
    options = AppOptions(
        root_path=args.root_path.rstrip("/"),
        proxy_headers=args.proxy_headers,
        forwarded_allow_ips=args.forwarded_allow_ips,
        limit_concurrency=args.limit_concurrency,
        access_log=args.access_log,
        max_body=args.limit_max_body,
    )
    return AppFront(app, options), Lifespan(app, args.lifespan)
