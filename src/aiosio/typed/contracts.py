"""Declared events: what the server sends, so that documents can describe both directions.

``io.declare("chat", ChatMessage)`` says that the server emits ``chat`` with one
``ChatMessage``; ``ack=Delivered`` that the client answers it with a ``Delivered``. With
``io.check_emits`` on, an emit of a declared event whose arguments do not fit raises
:class:`~aiosio.exceptions.LocalProtocolError` at the call, before anything is sent.

``io.declare(ServerEvents)`` declares every method of a class at once (a ``Protocol`` is
the natural choice): the method's name is the event, its positional parameters after
``self`` the arguments, and a keyword-only ``ack`` parameter the answer's type.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiosio.exceptions import LocalProtocolError
from aiosio.typed.validation import adapter_for, is_unchecked, payload_hints

__all__ = ["NO_ACK", "Declared", "declarations_of"]


class _NoAck:
    def __repr__(self) -> str:
        return "NO_ACK"


NO_ACK: Any = _NoAck()
"""The ``ack`` of an event that is not acknowledged."""


@dataclass(frozen=True, slots=True)
class Declared:
    """The contract of one event: its arguments' types and its answer's type.

    Attributes:
        event: The event name.
        args: The types of its arguments, in order.
        ack: The type of the answer; ``NO_ACK`` when the event is not acknowledged.
        names: The arguments' names, when known (documents show them).
        description: What the event means, for the documents; None when not given.
    """

    event: str
    args: tuple[object, ...]
    ack: object = NO_ACK
    names: tuple[str, ...] = ()
    description: str | None = None

    def check(self, args: Sequence[Any]) -> None:
        """Check the arguments of an emit.

        Args:
            args: The arguments about to be emitted.

        Raises:
            LocalProtocolError: If their number or a type is wrong (pydantic's messages,
                never the values).
        """
        if len(args) != len(self.args):
            raise LocalProtocolError(
                f"{self.event!r} is declared with {len(self.args)} argument(s), "
                f"emitted with {len(args)}"
            )
        for index, (kind, value) in enumerate(zip(self.args, args, strict=True)):
            if is_unchecked(kind):
                continue
            try:
                adapter_for(kind).validate_python(value)
            except ValueError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in (index, *e['loc']))}: {e['msg']}"
                    for e in exc.errors(include_input=False, include_url=False)  # type: ignore[attr-defined]
                )
                raise LocalProtocolError(
                    f"{self.event!r} does not match its declaration: {problems}"
                ) from None


def declarations_of(events: type) -> list[Declared]:
    """The declarations of a class of events: one per public method.

    Raises:
        TypeError: If an annotation cannot be resolved.
    """
    declared = []
    for name, member in inspect.getmembers(events, inspect.isfunction):
        if name.startswith("_"):
            continue
        hints = payload_hints(member)
        parameters = list(inspect.signature(member).parameters.values())[1:]  # self
        args = tuple(
            hints.get(p.name, Any)
            for p in parameters
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        )
        names = tuple(
            p.name for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        )
        ack = next(
            (hints.get(p.name, Any) for p in parameters if p.kind is p.KEYWORD_ONLY),
            NO_ACK,
        )
        declared.append(Declared(name, args, ack, names, inspect.getdoc(member)))
    return declared
