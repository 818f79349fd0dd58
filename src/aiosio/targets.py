"""What ``aiosio serve module:attr`` loads: the object a target names, and its server.

Shared by :mod:`aiosio.cli` and the worker processes of :mod:`aiosio.workers`.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from dataclasses import dataclass
from typing import Any

from aiosio.app import Server

__all__ = ["Served", "TargetError", "find_served", "load_server", "load_target", "server_of"]


class TargetError(Exception):
    """``module:attr`` cannot be imported or is not something we can serve."""


def load_target(spec: str) -> Any:
    """Import ``attr`` (dotted names allowed) from ``module``.

    Raises:
        TargetError: With a message for the user.
    """
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise TargetError(f"{spec!r}: expected module:attribute, such as app:io")
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            raise TargetError(f"cannot import module {module_name!r}") from exc
        raise
    target: Any = module
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise TargetError(f"module {module_name!r} has no attribute {attr!r}") from None
    return target


def server_of(target: Any) -> Server | None:
    """The aiosio server behind ``target``, or None for a foreign ASGI application.

    Raises:
        TargetError: If ``target`` is not callable at all.
    """
    if isinstance(target, Server):
        return target
    from aiosio.asgi import ASGIApp

    if isinstance(target, ASGIApp):
        handler = target.router.engine.handler
        if isinstance(handler, Server):
            return handler
    if not callable(target):
        raise TargetError(f"{target!r} is neither an aiosio.Server nor an ASGI application")
    return None


def load_server(target: str) -> Any:
    """``"pkg.mod:attr"`` -> the Server it names (calling it when it is a function).

    An ASGI app of an aiosio server (``io.asgi_app()``) names its server too.
    """
    module_name, _, attribute = target.partition(":")
    value = load_target(f"{module_name}:{attribute or 'io'}")
    if callable(value) and not hasattr(value, "run") and server_of(value) is None:
        if not _callable_without_arguments(value):
            raise TargetError(
                f"{target!r} names {value!r}, which is not an aiosio.Server nor a function "
                "returning one (a foreign ASGI application cannot be served here)"
            )
        value = value()
    return server_of(value) or value


def _callable_without_arguments(value: Any) -> bool:
    """Whether ``value()`` binds (a server factory), unlike an ASGI ``(scope, receive,
    send)`` callable; a callable whose signature cannot be read is given the benefit."""
    try:
        inspect.signature(value).bind()
    except TypeError:
        return False
    except ValueError:
        return True
    return True


@dataclass(frozen=True, slots=True)
class Served:
    """What ``aiosio serve`` runs for a target: an aiosio server, and the ASGI application
    beside it (None for Socket.IO alone), found mounted at ``prefix``."""

    io: Server
    app: Any
    prefix: str = ""


_MAX_DEPTH = 8  # wrappers and mounts looked through to find the server inside an app


def find_served(target: Any) -> Served | None:
    """The aiosio server of ``target`` and the application to serve beside it.

    ``target`` may be an :class:`aiosio.Server`, ``io.asgi_app(app)`` (the app is
    ``app``), or an ASGI application with ``io.asgi_app()`` somewhere inside: mounted
    (Starlette and FastAPI ``app.mount(prefix, ...)``, nested mounts add up), behind
    middleware (an ``.app`` attribute), or in a protocol router (an
    ``application_mapping``, as Django Channels has). None when no server is found.
    """
    io = server_of(target)
    if io is not None:
        return Served(io, io.router.other_app)
    found = _search(target, "", 0, set())
    if found is None:
        return None
    inner, prefix = found
    io = server_of(inner)
    if io is None:
        return None
    return Served(io, target, prefix)


def _search(app: Any, prefix: str, depth: int, seen: set[int]) -> tuple[Any, str] | None:
    from aiosio.asgi import ASGIApp

    if id(app) in seen or depth > _MAX_DEPTH:
        return None
    seen.add(id(app))
    if isinstance(app, (ASGIApp, Server)):
        return app, prefix
    children: list[tuple[Any, str]] = []
    for route in getattr(app, "routes", None) or ():
        inner = getattr(route, "app", None)
        if inner is not None:
            path = getattr(route, "path", "")
            children.append((inner, prefix + (path if isinstance(path, str) else "")))
    mapping = getattr(app, "application_mapping", None)
    if isinstance(mapping, dict):
        children.extend((inner, prefix) for inner in mapping.values())
    for name in ("app", "router", "application"):
        inner = getattr(app, name, None)
        if inner is not None and inner is not app:
            children.append((inner, prefix))
    for child, child_prefix in children:
        found = _search(child, child_prefix, depth + 1, seen)
        if found is not None:
            return found
    return None
