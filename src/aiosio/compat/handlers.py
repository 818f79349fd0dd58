"""Calling python-socketio-style handlers: arguments fitted to the handler, and awaited
when it is a coroutine function.

python-socketio passes ``auth`` to ``connect`` and ``reason`` to ``disconnect`` only when
the handler takes them; every other handler gets exactly what the client sent. A
handler's signature is read once, when it is registered (:class:`Handler`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from functools import wraps
from typing import Any, Concatenate, ParamSpec, TypeVar, cast, overload

from aiosio._handlers import Suspended
from aiosio._handlers import run_eagerly as eagerly

__all__ = [
    "Handler",
    "Registry",
    "arguments",
    "in_namespace",
    "message_of",
    "run_eagerly",
    "settle",
]

F = TypeVar("F", bound=Callable[..., Any])
P = ParamSpec("P")
R = TypeVar("R")
S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class Handler:
    """A registered handler, with what its signature says."""

    fn: Callable[..., Any]
    is_async: bool
    max_args: int | None  # None: it takes *args

    @classmethod
    def of(cls, fn: Callable[..., Any]) -> Handler:
        """Read ``fn``'s signature.

        Raises:
            TypeError: ``fn`` is not callable.
        """
        if not callable(fn):
            raise TypeError(f"a handler must be callable, not {type(fn).__name__}")
        is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
            getattr(fn, "__call__", None)  # noqa: B004 - objects with an async __call__
        )
        try:
            parameters = inspect.signature(fn).parameters.values()
        except (TypeError, ValueError):
            return cls(fn, is_async, None)
        count = 0
        for parameter in parameters:
            if parameter.kind is parameter.VAR_POSITIONAL:
                return cls(fn, is_async, None)
            if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
                count += 1
        return cls(fn, is_async, count)

    def fitted(self, *args: Any) -> Any:
        """Call with the first arguments the handler takes (for connect and disconnect,
        whose last arguments are optional in python-socketio)."""
        limit = self.max_args
        return self.fn(*(args if limit is None else args[:limit]))


async def settle(result: Any) -> Any:
    """``result``, awaited if it is awaitable (a sync handler's value, or a coroutine)."""
    if inspect.isawaitable(result):
        return await result
    return result


def run_eagerly(coro: Coroutine[Any, Any, Any]) -> tuple[bool, Any]:
    """Run a coroutine until it first suspends: ``(True, result)`` if it finished (no
    task needed: most handlers await only the facade's methods, which never suspend),
    or ``(False, rest)``, ``rest`` an awaitable to finish it in a task
    (:func:`aiosio._handlers.run_eagerly`, in the current context).

    An exception of the first step is raised here.
    """
    value = eagerly(coro)
    return type(value) is not Suspended, value


def arguments(data: Any) -> tuple[Any, ...]:
    """python-socketio's ``data``: None is no argument, a tuple several, anything else one."""
    if data is None:
        return ()
    if type(data) is tuple:
        return data
    return (data,)


class Registry:
    """``on`` and ``event``, as python-socketio's server and client both have them:
    handlers by namespace and event, in :attr:`handlers`."""

    handlers: dict[str, dict[str, Handler]]

    def _registered(self, namespace: str) -> None:
        """Called after each registration (the server attaches the namespace)."""

    @overload
    def on(
        self, event: str, handler: None = None, namespace: str | None = None
    ) -> Callable[[F], F]: ...
    @overload
    def on(self, event: str, handler: F, namespace: str | None = None) -> F: ...
    def on(
        self, event: str, handler: F | None = None, namespace: str | None = None
    ) -> F | Callable[[F], F]:
        """Register ``handler`` for ``event`` in ``namespace``; a decorator without a handler.

        Args:
            event: The event name; ``"*"`` is the catch-all, for the events no handler of
                their own takes.
            handler: ``handler(sid, *args)`` on a server, ``handler(*args)`` on a client; the
                catch-all gets the event name first.
            namespace: The namespace; None means ``/``.

        Returns:
            The handler, or a decorator that registers its function.
        """
        if handler is None:
            return lambda fn: self.on(event, fn, namespace)
        name = namespace or "/"
        self.handlers.setdefault(name, {})[event] = Handler.of(handler)
        self._registered(name)
        return handler

    @overload
    def event(self, handler: F) -> F: ...
    @overload
    def event(self, handler: None = None, *, namespace: str | None = None) -> Callable[[F], F]: ...
    def event(
        self, handler: F | None = None, *, namespace: str | None = None
    ) -> F | Callable[[F], F]:
        """Decorator: the function's name is the event.

        ``@sio.event``, or ``@sio.event(namespace="/chat")``.

        Args:
            handler: The function; omitted when a namespace is given.
            namespace: The namespace; None means ``/``.

        Returns:
            The handler, or a decorator.
        """
        if handler is None:
            return lambda fn: self.on(fn.__name__, fn, namespace)
        return self.on(handler.__name__, handler, namespace)


# -- methods made of other methods ----------------------------------------------------------


def message_of(emit: Callable[Concatenate[S, str, P], R]) -> Callable[Concatenate[S, P], R]:
    """python-socketio's ``send``: ``self.emit("message", ...)``, with the parameters and
    defaults of ``emit`` after the event (an override of ``emit`` applies to it too)."""
    name = emit.__name__

    def send(self: S, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return cast(R, getattr(self, name)("message", *args, **kwargs))

    signature = inspect.signature(emit)
    params = list(signature.parameters.values())
    send.__doc__ = _without_event(emit.__doc__ or "")
    send.__signature__ = signature.replace(parameters=[params[0], *params[2:]])  # type: ignore[attr-defined]
    return send


def _without_event(emit_doc: str) -> str:
    """``send``'s docstring: ``emit``'s sections but its ``event`` argument."""
    kept: list[str] = []
    skipping = False
    for line in inspect.cleandoc(emit_doc).splitlines()[1:]:  # emit's summary is not send's
        if line.strip().startswith("event:"):
            skipping = True
        elif not (skipping and line.startswith(" " * 8)):  # the entry's continuation lines
            skipping = False
            kept.append(line)
    return 'Emit a ``message`` event: ``emit("message", ...)``.\n' + "\n".join(kept)


def in_namespace(
    owner: str, method: Callable[Concatenate[Any, P], R]
) -> Callable[Concatenate[Any, P], R]:
    """``method`` of a class-based namespace's server or client (its attribute ``owner``),
    its ``namespace`` argument (when it has one) defaulting to the class's namespace."""
    signature = inspect.signature(method)
    name = method.__name__

    @wraps(method)
    def forward(self: Any, /, *args: P.args, **kwargs: P.kwargs) -> R:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        if "namespace" in bound.arguments:
            bound.arguments["namespace"] = bound.arguments["namespace"] or self.namespace
        target = getattr(getattr(self, owner), name)
        return cast(R, target(*bound.args[1:], **bound.kwargs))

    return forward
