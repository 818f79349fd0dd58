"""Payloads checked against a handler's annotations (docs/typed-events.md).

A handler's positional parameters are its contract: ``def chat(msg: ChatMessage, room:
str)``. When a handler is registered, :func:`checker_for` reads its annotations once and
builds a :class:`Checker` (one pydantic ``TypeAdapter`` per annotated parameter), or
returns None when nothing needs checking (no annotation, ``Any`` or ``object``): such a
handler is called exactly as before, at no extra cost.

A payload that does not fit raises :class:`InvalidPayload` before the handler runs. Its
``errors`` are pydantic's, without the input values (a payload may hold secrets) and
with each location starting at the argument's index, so a client can point at the field.

pydantic is an optional dependency (``pip install aiosio[validation]``); it is imported
only when a handler has annotations to check.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "INVALID_PAYLOAD",
    "Checker",
    "InvalidPayload",
    "adapter_for",
    "checker_for",
    "convert",
    "convert_answers",
    "convert_per_socket",
    "payload_hints",
]

INVALID_PAYLOAD = "invalid_payload"
"""The ``error`` of the answer a client gets for a payload that does not fit."""

_UNCHECKED: frozenset[object] = frozenset({Any, object, "Any", "typing.Any", "object"})
_MAX_ERRORS = 20  # a huge list of wrong items answers with the first ones only


class InvalidPayload(ValueError):
    """A payload (or an acknowledgement) that does not match its annotations.

    Args:
        errors: pydantic's errors, as :attr:`errors` keeps them.
        event: The event's name, when known (it is set later otherwise).

    Attributes:
        errors: pydantic's errors, each ``{"type", "loc", "msg"}`` (and ``ctx`` when it is
            plain data), never the input value; ``loc`` starts with the argument's index.
        event: The event's name, when known.
    """

    def __init__(self, errors: list[dict[str, Any]], event: Any = None) -> None:
        self.errors = errors
        self.event = event
        kinds = ", ".join(sorted({str(error["type"]) for error in errors}))
        super().__init__(f"invalid payload ({len(errors)} error(s): {kinds})")

    def answer(self) -> dict[str, Any]:
        """The acknowledgement sent for it.

        Returns:
            ``{"error": "invalid_payload", "detail": [...]}``, the details being
            :attr:`errors`.
        """
        return {"error": INVALID_PAYLOAD, "detail": self.errors}


def _pydantic() -> Any:
    try:
        import pydantic
    except ImportError as exc:  # pragma: no cover - pydantic is in the dev extra
        raise ImportError(
            "annotated handlers are validated with pydantic: pip install 'aiosio[validation]'"
        ) from exc
    return pydantic


_ADAPTERS: dict[object, Any] = {}
_MAX_ADAPTERS = 1024


def adapter_for(annotation: object) -> Any:
    """The pydantic ``TypeAdapter`` of ``annotation``, built once per annotation."""
    try:
        adapter = _ADAPTERS.get(annotation)
    except TypeError:  # an unhashable annotation (Annotated with a dict, say)
        return _pydantic().TypeAdapter(annotation)
    if adapter is None:
        adapter = _pydantic().TypeAdapter(annotation)
        if len(_ADAPTERS) >= _MAX_ADAPTERS:
            _ADAPTERS.clear()
        _ADAPTERS[annotation] = adapter
    return adapter


def _clean(errors: Sequence[Any], prefix: tuple[Any, ...]) -> list[dict[str, Any]]:
    """pydantic's errors without their inputs, located from ``prefix``."""
    cleaned = []
    for error in errors[:_MAX_ERRORS]:
        item: dict[str, Any] = {
            "type": error["type"],
            "loc": [*prefix, *error["loc"]],
            "msg": error["msg"],
        }
        ctx = error.get("ctx")
        if ctx and all(type(v) in (str, int, float, bool) for v in ctx.values()):
            item["ctx"] = dict(ctx)
        cleaned.append(item)
    return cleaned


@dataclass(frozen=True, slots=True)
class Checker:
    """How to check and convert the arguments of one handler.

    ``skip`` leading arguments are passed as they are (the socket of a namespace-level
    handler, a middleware's socket); then each positional parameter has its adapter (None:
    not checked); ``required`` of them have no default; ``rest`` checks ``*args`` items.
    A null where a parameter with a default refuses None gets the default: a JavaScript
    client sends ``undefined`` (an argument left out before a callback) as null.
    """

    skip: int
    adapters: tuple[Any, ...]
    required: int
    rest: Any
    variadic: bool
    names: tuple[str, ...]
    hints: tuple[object, ...]
    returns: object
    defaults: tuple[Any, ...] = ()

    def __call__(self, args: Sequence[Any]) -> list[Any]:
        """The converted arguments, fitted to the signature.

        Raises:
            InvalidPayload: If an argument does not fit its annotation.
        """
        skip = self.skip
        count = len(args)
        out = list(args[:skip])
        errors: list[dict[str, Any]] = []
        for index, adapter in enumerate(self.adapters):
            position = skip + index
            if position < count:
                value = args[position]
            elif index >= self.required:
                break  # the defaults apply from here
            else:
                value = None  # JavaScript's undefined: fine only where None is
            if adapter is None:
                out.append(value)
                continue
            try:
                out.append(adapter.validate_python(value))
            except ValueError as exc:
                if value is None and index >= self.required:
                    out.append(self.defaults[index])
                elif position >= count and not _accepts_none(adapter):
                    errors.append({"type": "missing", "loc": [index], "msg": "Field required"})
                else:
                    errors.extend(_clean(_errors_of(exc), (index,)))
        if self.variadic and count > skip + len(self.adapters):
            extra = args[skip + len(self.adapters) :]
            if self.rest is None:
                out.extend(extra)
            else:
                for offset, value in enumerate(extra, len(self.adapters)):
                    try:
                        out.append(self.rest.validate_python(value))
                    except ValueError as exc:
                        errors.extend(_clean(_errors_of(exc), (offset,)))
        if errors:
            raise InvalidPayload(errors[:_MAX_ERRORS])
        return out


def _errors_of(exc: ValueError) -> Sequence[Any]:
    errors = getattr(exc, "errors", None)
    if errors is None:  # pragma: no cover - pydantic raises ValidationError
        return [{"type": "value_error", "loc": (), "msg": str(exc)}]
    return errors(include_url=False, include_input=False)  # type: ignore[no-any-return]


def _accepts_none(adapter: Any) -> bool:
    try:
        adapter.validate_python(None)
    except ValueError:
        return False
    return True


def is_unchecked(annotation: object) -> bool:
    """Whether an annotation asks for no check (none, ``Any``, ``object``)."""
    try:
        return annotation is inspect.Parameter.empty or annotation in _UNCHECKED
    except TypeError:  # unhashable
        return False


def payload_hints(fn: Callable[..., Any]) -> dict[str, Any]:
    """The resolved annotations of ``fn`` (``Annotated`` kept).

    Raises:
        TypeError: If an annotation names something that cannot be resolved.
    """
    target = fn if inspect.isroutine(fn) or inspect.isclass(fn) else type(fn).__call__
    try:
        return typing.get_type_hints(target, include_extras=True)
    except NameError as exc:
        raise TypeError(_unresolved(fn, target, exc)) from exc
    except Exception as exc:
        raise TypeError(f"cannot resolve the annotations of handler {fn!r}: {exc}") from exc


def _unresolved(fn: Callable[..., Any], target: Any, exc: NameError) -> str:
    """What to do about an annotation naming something its module's globals lack.

    The usual cause: ``from __future__ import annotations`` makes every annotation a
    string, resolved later in the module's globals, where a class defined inside a
    function is not.
    """
    name = exc.name or str(exc)
    where = getattr(target, "__qualname__", repr(fn))
    annotations = getattr(target, "__annotations__", {})
    parameter = next(
        (key for key, value in annotations.items() if isinstance(value, str) and name in value),
        "...",
    )
    inside = (
        ", which under `from __future__ import annotations` does not see a class defined "
        "inside a function"
        if "<locals>" in where
        else ""
    )
    short = getattr(target, "__name__", "handler")
    module = getattr(target, "__module__", "?")
    return (
        f"cannot resolve the annotations of handler {where}: {name!r} (of {parameter!r}) is "
        f"not in the globals of module {module}{inside}. Define {name} at "
        f"module level (or import it there), or pass the type itself: remove `from "
        f"__future__ import annotations` from that module, or set "
        f"`{short}.__annotations__[{parameter!r}] = {name}` before registering the handler"
    )


def checker_for(fn: Callable[..., Any], signature: inspect.Signature, skip: int) -> Checker | None:
    """The checker of a handler's payload parameters (after ``skip`` leading ones), or
    None when none of them is annotated with something to check.

    Raises:
        TypeError: If an annotation cannot be resolved or pydantic cannot build a
            validator for it.
    """
    parameters = [
        p
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL)
    ]
    payload = parameters[skip:]
    if all(is_unchecked(p.annotation) for p in payload):
        return None
    hints = payload_hints(fn)
    adapters: list[Any] = []
    names: list[str] = []
    kinds: list[object] = []
    defaults: list[Any] = []
    rest = None
    variadic = False
    required = 0
    for parameter in payload:
        hint = hints.get(parameter.name, Any)
        adapter = None if is_unchecked(hint) else _build(fn, hint)
        if parameter.kind is parameter.VAR_POSITIONAL:
            variadic, rest = True, adapter
            continue
        adapters.append(adapter)
        names.append(parameter.name)
        kinds.append(hint)
        defaults.append(parameter.default)
        if parameter.default is parameter.empty:
            required = len(adapters)
    if rest is None and all(adapter is None for adapter in adapters):
        return None
    return Checker(
        skip=skip,
        adapters=tuple(adapters),
        required=required,
        rest=rest,
        variadic=variadic,
        names=tuple(names),
        hints=tuple(kinds),
        returns=hints.get("return", Any),
        defaults=tuple(defaults),
    )


def _build(fn: Callable[..., Any], hint: object) -> Any:
    if hint is bytes:  # a binary attachment: text is not converted to bytes
        hint = typing.Annotated[bytes, _pydantic().Strict()]
    try:
        return adapter_for(hint)
    except ImportError:
        raise
    except Exception as exc:
        raise TypeError(f"handler {fn!r}: cannot validate {hint!r}: {exc}") from exc


def convert(annotation: object, value: Any) -> Any:
    """``value`` checked and converted to ``annotation`` (an acknowledgement's answer).

    Raises:
        InvalidPayload: If it does not fit.
    """
    if is_unchecked(annotation):
        return value
    try:
        return adapter_for(annotation).validate_python(value)
    except ValueError as exc:
        raise InvalidPayload(_clean(_errors_of(exc), ())) from None


def convert_answers(annotation: object, answers: list[Any]) -> list[Any]:
    """Each answer of a broadcast's acknowledgements converted to ``annotation``.

    Raises:
        InvalidPayload: If one does not fit; each error's ``loc`` starts with the answer's
            index in the list.
    """
    if is_unchecked(annotation):
        return answers
    adapter = adapter_for(annotation)
    converted: list[Any] = []
    errors: list[dict[str, Any]] = []
    for index, answer in enumerate(answers):
        try:
            converted.append(adapter.validate_python(answer))
        except ValueError as exc:
            errors.extend(_clean(_errors_of(exc), (index,)))
    if errors:
        raise InvalidPayload(errors[:_MAX_ERRORS])
    return converted


def convert_per_socket(annotation: object, results: dict[str, Any]) -> dict[str, Any]:
    """A broadcast's per-socket results with each answer converted to ``annotation``.

    Each answer (a list of the client's arguments) is shaped as a socket's
    ``emit_with_ack`` returns it (None, the one argument, a tuple of several), then
    converted; an answer that does not fit becomes an :class:`InvalidPayload`, as a socket
    that did not answer has an ``AckTimeout``. Errors stay as they are.
    """
    if is_unchecked(annotation):
        return results
    converted: dict[str, Any] = {}
    for sid, answer in results.items():
        if isinstance(answer, Exception):
            converted[sid] = answer
            continue
        shaped = None if not answer else answer[0] if len(answer) == 1 else tuple(answer)
        try:
            converted[sid] = convert(annotation, shaped)
        except InvalidPayload as invalid:
            converted[sid] = invalid
    return converted
