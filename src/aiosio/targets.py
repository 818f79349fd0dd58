"""What ``aiosio serve module:attr`` loads: the object a target names, and its server.

Shared by :mod:`aiosio.cli` and the worker processes of :mod:`aiosio.workers`.
"""

from __future__ import annotations

import importlib
import inspect
import os
import sys
from typing import Any

from aiosio.app import Server

__all__ = ["TargetError", "load_server", "load_target", "server_of"]


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
