"""What a server's typed events are, read from the server, for the generated documents.

Per namespace (the static ones: a dynamic parent has no fixed name):

- incoming events, client to server: the namespace-level handlers (``io.handle``), their
  annotated parameters the arguments and their return annotation the acknowledgement;
- outgoing events, server to client: the declarations (``io.declare``);
- the handshake's ``auth`` payload, when a middleware annotates it.

Handlers registered on a socket in a connection handler (``socket.on``) are validated just
the same, but exist only once a client connects: a document cannot see them.

:func:`json_schemas` turns every annotation into a JSON Schema in one pass, so that the
models used by several events are defined once.
"""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiosio.typed.contracts import NO_ACK, Declared
from aiosio.typed.validation import adapter_for, is_unchecked, payload_hints

if TYPE_CHECKING:
    from aiosio._handlers import HandlerSpec
    from aiosio.server.server import BaseServer

__all__ = ["Contracts", "Event", "answer_types", "collect", "json_schemas", "key_of"]


@dataclass(frozen=True, slots=True)
class Event:
    """One event in one direction: its arguments and its acknowledgement's answer."""

    name: str
    args: tuple[object, ...]
    names: tuple[str, ...]
    required: int
    ack: object = NO_ACK  # NO_ACK: not acknowledged; else the answer's type
    description: str | None = None


@dataclass(slots=True)
class Contracts:
    """The typed events of one namespace."""

    namespace: str
    incoming: list[Event] = field(default_factory=list)
    outgoing: list[Event] = field(default_factory=list)
    auth: object = None  # the auth payload's type, when a middleware declares it


def collect(server: BaseServer) -> list[Contracts]:
    """The contracts of every static namespace that has any, ``/`` first.

    Raises:
        TypeError: If an annotation cannot be resolved.
    """
    found = []
    for name in sorted(server.namespaces, key=lambda n: (n != "/", n)):
        namespace = server.namespaces[name]
        if namespace.parent is not None:
            continue  # a dynamic child: its parent has no name to describe
        contracts = Contracts(name)
        for event, specs in namespace.handled.items():
            contracts.incoming.append(_incoming(event, specs[0]))
        contracts.outgoing = [_outgoing(declared) for declared in namespace.declared.values()]
        for spec in namespace._middlewares:
            checker = getattr(spec, "checker", None)  # a TypedHandlerSpec's
            if checker is not None:
                contracts.auth = checker.hints[0] if checker.hints else None
                break
        if contracts.incoming or contracts.outgoing or contracts.auth is not None:
            found.append(contracts)
    return found


def _incoming(event: str, spec: HandlerSpec) -> Event:
    fn = spec.fn
    description = inspect.getdoc(fn)
    checker = getattr(spec, "checker", None)  # a TypedHandlerSpec's
    if checker is not None:
        returns = checker.returns
        return Event(
            event,
            checker.hints,
            checker.names,
            checker.required,
            _ack_of(fn, spec, returns),
            description,
        )
    parameters = [
        p
        for p in inspect.signature(fn).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ][1:]
    names = tuple(p.name for p in parameters)
    required = sum(1 for p in parameters if p.default is p.empty)
    returns = payload_hints(fn).get("return", Any)
    return Event(
        event, (Any,) * len(names), names, required, _ack_of(fn, spec, returns), description
    )


def _ack_of(fn: Callable[..., Any], spec: HandlerSpec, returns: object) -> object:
    """The answer's type: the ``ack`` parameter's ``Callable[[T], ...]`` when the handler
    answers itself, else the return annotation (``None``: no answer)."""
    if spec.wants_ack:
        hint = payload_hints(fn).get("ack", Any)
        arguments = typing.get_args(hint)
        if arguments and isinstance(arguments[0], list):
            listed = arguments[0]
            return listed[0] if len(listed) == 1 else tuple.__class_getitem__(tuple(listed))
        return Any
    if returns is None or returns is type(None):
        return NO_ACK
    return returns


def _outgoing(declared: Declared) -> Event:
    names = declared.names or tuple(f"arg{i}" for i in range(len(declared.args)))
    return Event(
        declared.event,
        declared.args,
        names,
        len(declared.args),
        declared.ack,
        declared.description,
    )


def answer_types(ack: object) -> tuple[object, ...]:
    """The arguments of an acknowledgement of type ``ack`` (a tuple type: several)."""
    if typing.get_origin(ack) is tuple:
        arguments = typing.get_args(ack)
        if arguments and arguments[-1] is not Ellipsis:
            return arguments
    return (ack,)


_KEY = re.compile(r"[^A-Za-z0-9_.-]+")


def key_of(text: str) -> str:
    """A name usable as a component key (``[A-Za-z0-9_.-]``) for any event or namespace."""
    return _KEY.sub("_", text).strip("_") or "root"


Schema = dict[str, Any]


def json_schemas(
    types: list[tuple[str, object, str]], ref_template: str
) -> tuple[dict[str, Schema], dict[str, Schema]]:
    """JSON Schemas of named annotations in one pass, with shared definitions.

    Args:
        types: ``(key, annotation, mode)`` with mode ``"validation"`` (what the server
            accepts) or ``"serialization"`` (what it sends).
        ref_template: How a definition is referred to (``"#/components/schemas/{model}"``).

    Returns:
        The schema of each key, and the definitions.
    """
    from pydantic import TypeAdapter

    inputs = [
        (key, mode, adapter_for(kind))
        for key, kind, mode in types
        if not is_unchecked(kind) and kind is not None
    ]
    schemas: dict[str, Schema] = {key: {} for key, _, _ in types}
    if not inputs:
        return schemas, {}
    mapping, definitions = TypeAdapter.json_schemas(
        inputs,  # type: ignore[arg-type]
        ref_template=ref_template,
    )
    for (key, _), schema in mapping.items():
        schemas[key] = schema
    return schemas, dict(definitions.get("$defs", {}))


def walk(schema: Any) -> Iterator[dict[str, Any]]:
    """Every object of a schema, depth first (to rewrite it in place)."""
    if isinstance(schema, dict):
        yield schema
        for value in list(schema.values()):
            yield from walk(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from walk(item)
