"""Event handlers, inspected once when they are registered (docs/design.md, "Handlers").

Socket.IO peers send any number of arguments; a Python function takes a fixed number. We
read the signature once: extra arguments are dropped and missing ones are passed as None
(as JavaScript passes ``undefined``), and a keyword-only parameter named ``ack`` asks for
the acknowledgement callable. A handler is never called, caught on TypeError and retried.

Where the caller asks for it (event handlers, not the local ``connect``/``disconnect``
ones), annotated payload parameters make a :class:`TypedHandlerSpec`, whose ``call``
checks and converts the arguments first (:mod:`aiosio.typed.validation`). A handler with
nothing to check stays a plain :class:`HandlerSpec`: its calls cost what they always did.

A coroutine handler runs eagerly (:func:`run_eagerly`): its first step runs at once, and
only one that suspends costs a task. Most ``async def`` handlers never suspend (emitting
does not await), and a task per event was a third of an echo's cost.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine, Generator
from contextvars import Context
from dataclasses import dataclass
from types import CodeType, CoroutineType, FunctionType, coroutine
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aiosio.typed.packets import PacketChecker
    from aiosio.typed.validation import Checker

__all__ = [
    "PACKET",
    "PARKED",
    "HandlerSpec",
    "Suspended",
    "TypedHandlerSpec",
    "ack_args",
    "inspect_handler",
    "run_eagerly",
    "until_parked",
]

PACKET = -1
"""``payload_from`` of a packet middleware: its first parameter types the whole packet."""


@dataclass(frozen=True, slots=True)
class HandlerSpec:
    """A registered handler and how to call it."""

    fn: Callable[..., Any]
    is_async: bool
    min_args: int
    max_args: int | None  # None: takes *args
    wants_ack: bool
    once: bool = False

    def call(self, args: list[Any] | tuple[Any, ...], ack: Any = None) -> Any:
        """Call the handler with ``args`` fitted to its signature."""
        count = len(args)
        limit = self.max_args
        if limit is not None and count > limit:
            args = args[:limit]
        elif count < self.min_args:
            args = [*args, *([None] * (self.min_args - count))]
        if self.wants_ack:
            return self.fn(*args, ack=ack)
        return self.fn(*args)


@dataclass(frozen=True, slots=True)
class TypedHandlerSpec(HandlerSpec):
    """A handler whose annotated arguments are checked and converted before it runs."""

    checker: Checker | PacketChecker | None = None

    def call(self, args: list[Any] | tuple[Any, ...], ack: Any = None) -> Any:
        """Call the handler with the converted arguments.

        Raises:
            InvalidPayload: If they do not fit the annotations (the handler is not called).
        """
        assert self.checker is not None
        args = self.checker(args)
        if self.wants_ack:
            return self.fn(*args, ack=ack)
        return self.fn(*args)


# What the signature of a plain function says, by what decides it (its code, how many
# defaults, which keyword-only defaults): a handler registered on every socket
# (``socket.on`` in a connection handler, the usual pattern, even a fresh lambda each
# time) is read once, not per connection. Bounded, for code compiled at run time. The
# annotations are part of the key's check: the same code may be annotated differently.
_Shape = tuple[bool, int, "int | None", bool, "Checker | PacketChecker | None", dict[str, Any]]
_SHAPES: dict[tuple[CodeType, int, frozenset[str], int | None], _Shape] = {}
_MAX_SHAPES = 1024


def inspect_handler(
    fn: Callable[..., Any], *, once: bool = False, payload_from: int | None = None
) -> HandlerSpec:
    """Read a handler's signature.

    Args:
        fn: The handler.
        once: Called once, then removed.
        payload_from: Check the annotated parameters from this index on (the first ones,
            such as a namespace-level handler's socket, are passed as they are); None
            checks nothing; :data:`PACKET` checks a packet middleware's packet.

    Raises:
        TypeError: If ``fn`` is not callable, its signature cannot be read, or (when
            checked) an annotation cannot be resolved or validated.
    """
    # A plain function whose signature is its code's (inspect.signature would follow
    # __wrapped__ or take __signature__). Read with getattr: reading fn.__dict__ would
    # give the function a dict of its own, 64 bytes held by every handler registered
    # per connection (socket.on in a connection handler).
    if (
        type(fn) is FunctionType
        and getattr(fn, "__wrapped__", None) is None
        and getattr(fn, "__signature__", None) is None
    ):
        key = (
            fn.__code__,
            len(fn.__defaults__ or ()),
            frozenset(fn.__kwdefaults__ or ()),
            payload_from,
        )
        shape = _SHAPES.get(key)
        if shape is None or (payload_from is not None and shape[5] != fn.__annotations__):
            spec = _inspect(fn, once=once, payload_from=payload_from)
            if len(_SHAPES) >= _MAX_SHAPES:
                _SHAPES.clear()
            checker = spec.checker if isinstance(spec, TypedHandlerSpec) else None
            annotations = dict(fn.__annotations__) if payload_from is not None else {}
            _SHAPES[key] = (
                spec.is_async,
                spec.min_args,
                spec.max_args,
                spec.wants_ack,
                checker,
                annotations,
            )
            return spec
        is_async, min_args, max_args, wants_ack, checker, _ = shape
        if checker is not None:
            return TypedHandlerSpec(fn, is_async, min_args, max_args, wants_ack, once, checker)
        return HandlerSpec(fn, is_async, min_args, max_args, wants_ack, once)
    return _inspect(fn, once=once, payload_from=payload_from)


def _inspect(
    fn: Callable[..., Any], *, once: bool = False, payload_from: int | None = None
) -> HandlerSpec:
    if not callable(fn):
        raise TypeError(f"a handler must be callable, not {type(fn).__name__}")
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"cannot read the signature of {fn!r}") from exc
    positional = 0
    required = 0
    variadic = False
    wants_ack = False
    for parameter in signature.parameters.values():
        kind = parameter.kind
        if kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            positional += 1
            if parameter.default is parameter.empty:
                required += 1
        elif kind is parameter.VAR_POSITIONAL:
            variadic = True
        elif kind is parameter.KEYWORD_ONLY and parameter.name == "ack":
            wants_ack = True
        elif kind is parameter.KEYWORD_ONLY and parameter.default is parameter.empty:
            raise TypeError(f"handler {fn!r} has a required keyword-only parameter")
    is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - callable objects with async __call__
    )
    if payload_from is not None:
        from aiosio.typed.packets import packet_checker
        from aiosio.typed.validation import checker_for

        checker: Checker | PacketChecker | None
        if payload_from == PACKET:
            checker = packet_checker(fn, signature)
        else:
            checker = checker_for(fn, signature, payload_from)
        if checker is not None:
            return TypedHandlerSpec(
                fn, is_async, required, None if variadic else positional, wants_ack, once, checker
            )
    return HandlerSpec(
        fn=fn,
        is_async=is_async,
        min_args=required,
        max_args=None if variadic else positional,
        wants_ack=wants_ack,
        once=once,
    )


def ack_args(result: Any) -> list[Any]:
    """A handler's return value as acknowledgement arguments.

    None sends no argument, a tuple sends its items as several arguments, anything else
    is the one argument.
    """
    if result is None:
        return []
    if type(result) is tuple:
        return list(result)
    return [result]


class Suspended:
    """The rest of a coroutine whose first step :func:`run_eagerly` ran: await it in a task.

    It hands the task what the coroutine waits on (the future it yielded), then sends the
    coroutine the results and throws it the exceptions (a cancellation too), as ``await``
    would, in the context its first step ran in.
    """

    __slots__ = ("context", "coro", "pending")

    def __init__(
        self, coro: Coroutine[Any, Any, Any], pending: Any, context: Context | None
    ) -> None:
        self.coro = coro
        self.pending = pending
        self.context = context

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, pending, context = self.coro, self.pending, self.context
        while True:
            try:
                sent = yield pending
            except GeneratorExit:
                coro.close()
                raise
            except BaseException as exc:  # the task was cancelled, or the future failed
                try:
                    pending = coro.throw(exc) if context is None else context.run(coro.throw, exc)
                except StopIteration as stop:
                    return stop.value
            else:
                try:
                    pending = coro.send(sent) if context is None else context.run(coro.send, sent)
                except StopIteration as stop:
                    return stop.value


def run_eagerly(awaitable: Awaitable[Any], context: Context | None = None) -> Any:
    """Run a coroutine handler's result until it first suspends, in ``context`` (the
    current one if None): what it returned if it finished, else a :class:`Suspended` to
    await in a task. An exception of the first step is raised here.

    Pass a copy of the current context to run the handler as a task would: what it sets
    in context variables stays its own.
    """
    coro = awaitable if type(awaitable) is CoroutineType else _awaited(awaitable)
    try:
        pending = coro.send(None) if context is None else context.run(coro.send, None)
    except StopIteration as stop:
        return stop.value
    return Suspended(coro, pending, context)


async def _awaited(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


PARKED: Any = object()
"""What a long-lived generator driving coroutines (the ASGI door's eager sender and its
receiver) yields when it has done one turn's work; anything else it yields is what a
coroutine inside it waits on. Resumed with ``send``, it raises no ``StopIteration`` into
Python code, as a coroutine driven by ``coro.send()`` would each time it ends."""


@coroutine
def until_parked(generator: Generator[Any, Any, Any], pending: Any) -> Generator[Any, Any, None]:
    """Await the rest of ``generator``'s turn, suspended on ``pending``: hand the task what
    it waits on, send or throw it the outcome (a cancellation, or the close of this
    awaitable, too), until it yields :data:`PARKED`."""
    while pending is not PARKED:
        try:
            sent = yield pending
        except BaseException as exc:
            pending = generator.throw(exc)
        else:
            pending = generator.send(sent)
