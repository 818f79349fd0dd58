"""Typed packet middlewares: ``socket.use(fn)`` with an annotated packet (docs/typed-events.md).

A packet middleware gets every incoming event as one list, ``[event, *args]``. When its
packet parameter is annotated (``tuple[Literal["chat"], ChatMessage]``, a union of such
tuples, ``list[...]``), the packet is checked and converted before the middleware runs;
one that does not fit never reaches it nor the handlers, and is answered as a handler's
bad payload is (:class:`~aiosio.typed.validation.InvalidPayload`).

A union of tuples whose first items are ``Literal`` event names is checked against the
alternative of the packet's event only, so that a bad ``chat`` packet reports what is wrong
with it, not why it is no ``move`` either. Error locations count the packet's items: 0 is
the event's name, 1 its first argument.

:func:`packet_checker` decides once, when the middleware is registered: a middleware with
nothing to check gets None, and its calls cost what they did.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiosio.typed.validation import (
    InvalidPayload,
    _clean,
    _errors_of,
    _pydantic,
    is_unchecked,
    payload_hints,
)

__all__ = ["PacketChecker", "packet_checker"]


@dataclass(frozen=True, slots=True)
class PacketChecker:
    """Checks one packet for a middleware: called with ``[packet]``, returns ``[value]``.

    ``by_event`` (a union of tuples keyed by their ``Literal`` event names) picks the
    adapter by the packet's event; otherwise ``adapter`` checks the whole packet. The
    converted items are written back into the packet, so the next middlewares and the
    handlers get them too; a list annotation gets the packet list itself, which the
    middleware may still change in place.
    """

    adapter: Any
    by_event: dict[Any, Any] | None = None

    def __call__(self, args: Sequence[Any]) -> list[Any]:
        """The converted packet, as the middleware's one argument.

        Raises:
            InvalidPayload: If the packet does not fit the annotation.
        """
        packet = args[0]
        adapter = self.adapter
        if self.by_event is not None:
            adapter = self.by_event.get(packet[0] if packet else None)
            if adapter is None:
                names = ", ".join(repr(name) for name in self.by_event)
                message = f"Input should be one of {names}"
                raise InvalidPayload([{"type": "literal_error", "loc": [0], "msg": message}])
        try:
            value = adapter.validate_python(packet)
        except ValueError as exc:
            raise InvalidPayload(_clean(_errors_of(exc), ())) from None
        if type(value) is list:
            packet[:] = value
            return [packet]
        if type(value) is tuple:
            packet[:] = value
        return [value]


def _event_names(member: object) -> tuple[Any, ...] | None:
    """The Literal event names of ``tuple[Literal[...], ...]``, else None."""
    if typing.get_origin(member) is not tuple:
        return None
    items = typing.get_args(member)
    if not items or typing.get_origin(items[0]) is not typing.Literal:
        return None
    return typing.get_args(items[0])


def _alternatives(hint: object) -> dict[Any, Any] | None:
    """Event name to the adapter of its tuple, when ``hint`` is a union of such tuples."""
    if typing.get_origin(hint) not in (typing.Union, types.UnionType):
        return None
    by_event: dict[Any, Any] = {}
    for member in typing.get_args(hint):
        names = _event_names(member)
        if names is None:
            return None
        adapter = _pydantic().TypeAdapter(member)
        for name in names:
            by_event.setdefault(name, adapter)
    return by_event


def packet_checker(fn: Callable[..., Any], signature: inspect.Signature) -> PacketChecker | None:
    """The checker of a packet middleware's first parameter, or None when it asks for
    no check (no annotation, ``Any``, ``object``, ``list``, ``list[Any]``).

    Raises:
        TypeError: If the annotation cannot be resolved or pydantic cannot validate it.
    """
    parameters = [
        p
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    if not parameters or is_unchecked(parameters[0].annotation):
        return None
    hint = payload_hints(fn).get(parameters[0].name, Any)
    if is_unchecked(hint) or hint in (list, list[Any], typing.List):  # noqa: UP006
        return None
    try:
        by_event = _alternatives(hint)
        return PacketChecker(_pydantic().TypeAdapter(hint), by_event)
    except ImportError:
        raise
    except Exception as exc:
        raise TypeError(f"packet middleware {fn!r}: cannot validate {hint!r}: {exc}") from exc
