"""aiosio.typed.validation: a handler's annotations checked and converted, decided once.

Every kind of annotation the issue lists (pydantic models, dataclasses, TypedDict, Literal,
Annotated constraints, unions, list/dict, bytes), what a bad payload raises (pydantic's
errors without the input values), and that a handler with nothing to check stays a plain
HandlerSpec (its calls cost nothing extra).
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from aiosio._handlers import HandlerSpec, TypedHandlerSpec, inspect_handler
from aiosio.typed.validation import (
    INVALID_PAYLOAD,
    InvalidPayload,
    adapter_for,
    checker_for,
    convert,
)


class Message(BaseModel):
    text: Annotated[str, Field(min_length=1)]
    at: datetime.datetime
    token: str = ""


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Options(TypedDict):
    loud: bool
    level: int


def typed(fn: Any, skip: int = 0) -> TypedHandlerSpec:
    spec = inspect_handler(fn, payload_from=skip)
    assert isinstance(spec, TypedHandlerSpec)
    return spec


def errors_of(spec: HandlerSpec, *args: Any) -> list[dict[str, Any]]:
    with pytest.raises(InvalidPayload) as caught:
        spec.call(list(args))
    return caught.value.errors


# -- decided once, at registration ---------------------------------------------------------------


def test_handlers_with_nothing_to_check_stay_plain() -> None:
    def bare(a, b):  # type: ignore[no-untyped-def]
        return a, b

    def anything(a: Any, b: object, *, ack: Any = None) -> Any: ...

    for fn in (bare, anything, lambda value: value):
        spec = inspect_handler(fn, payload_from=0)
        assert type(spec) is HandlerSpec
    assert checker_for(bare, __import__("inspect").signature(bare), 0) is None


def test_only_the_payload_after_the_leading_parameters_counts() -> None:
    def middleware(socket: int) -> None: ...

    assert type(inspect_handler(middleware, payload_from=1)) is HandlerSpec
    assert type(inspect_handler(middleware, payload_from=0)) is TypedHandlerSpec
    assert type(inspect_handler(middleware)) is HandlerSpec  # not asked: never checked


def test_the_same_code_with_other_annotations_is_read_again() -> None:
    specs = []
    for kind in (int, str):

        def handler(value: Any) -> None: ...

        handler.__annotations__ = {"value": kind, "return": None}  # as without PEP 563
        specs.append(typed(handler))
    assert specs[0].call(["7"]) is None
    assert errors_of(specs[1], 7)[0]["type"] == "string_type"


def test_an_annotation_that_cannot_be_resolved_is_refused_at_registration() -> None:
    def handler(value: NoSuchType) -> None: ...  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(TypeError, match="cannot resolve the annotations"):
        inspect_handler(handler, payload_from=0)


# -- the kinds of annotation ---------------------------------------------------------------------


def test_models_dataclasses_and_typed_dicts_are_converted() -> None:
    seen: list[Any] = []

    def handler(message: Message, point: Point, options: Options) -> None:
        seen.extend([message, point, options])

    typed(handler).call(
        [{"text": "hi", "at": "2026-01-02T03:04:05Z"}, {"x": 1, "y": "2"}, {"loud": 1, "level": 3}]
    )
    message, point, options = seen
    assert message == Message(
        text="hi", at=datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    )
    assert point == Point(1, 2)
    assert options == {"loud": True, "level": 3}


def test_literal_annotated_union_list_dict_and_bytes() -> None:
    seen: list[Any] = []

    def handler(
        room: Literal["a", "b"],
        count: Annotated[int, Field(ge=1, le=3)],
        key: int | uuid.UUID,
        tags: list[str],
        scores: dict[str, float],
        blob: bytes,
    ) -> None:
        seen.extend([room, count, key, tags, scores, blob])

    spec = typed(handler)
    key = uuid.uuid4()
    spec.call(["a", 2, str(key), ["x"], {"s": 1}, b"\x00\x01"])
    assert seen == ["a", 2, key, ["x"], {"s": 1.0}, b"\x00\x01"]
    assert errors_of(spec, "a", 2, 1, [], {}, "text")[0]["type"] == "bytes_type"  # binary only
    errors = errors_of(spec, "c", 9, "nope", "x", [], 3)
    assert [(e["loc"], e["type"]) for e in errors][:3] == [
        ([0], "literal_error"),
        ([1], "less_than_equal"),
        ([2, "int"], "int_parsing"),
    ]
    assert {e["loc"][0] for e in errors} == {0, 1, 2, 3, 4, 5}
    assert errors[1]["ctx"] == {"le": 3}


def test_missing_arguments_defaults_and_nulls() -> None:
    seen: list[Any] = []

    def handler(name: str, when: datetime.date | None, speed: int = 5) -> None:
        seen.append((name, when, speed))

    spec = typed(handler)
    spec.call(["a"])  # when is missing: None fits, speed gets its default
    spec.call(["a", "2026-05-06", None])  # a JavaScript undefined before a callback
    spec.call(["a", None, 2, "extra"])  # extra arguments are dropped, as for any handler
    assert seen == [("a", None, 5), ("a", datetime.date(2026, 5, 6), 5), ("a", None, 2)]
    assert errors_of(spec) == [{"type": "missing", "loc": [0], "msg": "Field required"}]


def test_variadic_arguments_are_checked_one_by_one() -> None:
    seen: list[Any] = []

    def handler(first: str, *rest: int) -> None:
        seen.append((first, rest))

    spec = typed(handler)
    spec.call(["a", "1", 2])
    assert seen == [("a", (1, 2))]
    assert [e["loc"] for e in errors_of(spec, "a", 1, "x")] == [[2]]


def test_errors_never_carry_the_input() -> None:
    def handler(message: Message) -> None: ...

    errors = errors_of(typed(handler), {"text": "", "at": "never", "token": 12345})
    text = repr(errors)
    assert "never" not in text and "12345" not in text
    assert all(set(e) <= {"type", "loc", "msg", "ctx"} for e in errors)
    invalid = InvalidPayload(errors, "chat")
    assert invalid.answer() == {"error": INVALID_PAYLOAD, "detail": errors}
    assert "string_too_short" in str(invalid)


def test_a_handler_is_not_called_with_a_bad_payload() -> None:
    calls: list[Any] = []

    def handler(point: Point, *, ack: Any) -> None:
        calls.append(point)

    spec = typed(handler)
    assert spec.wants_ack
    with pytest.raises(InvalidPayload):
        spec.call([{"x": "no"}], ack=calls.append)
    assert calls == []


def test_namespace_level_handlers_pass_their_socket_through() -> None:
    seen: list[Any] = []
    socket = object()

    def handler(sock: object, point: Point) -> None:
        seen.append((sock, point))

    typed(handler, skip=1).call([socket, {"x": 1, "y": 2}])
    assert seen == [(socket, Point(1, 2))]


# -- answers -------------------------------------------------------------------------------------


def test_convert_checks_an_answer() -> None:
    assert convert(Point, {"x": 1, "y": 2}) == Point(1, 2)
    assert convert(Any, {"anything": 1}) == {"anything": 1}
    with pytest.raises(InvalidPayload) as caught:
        convert(list[int], ["a"])
    assert caught.value.errors[0]["loc"] == [0]


def test_adapters_are_built_once_per_annotation() -> None:
    assert adapter_for(list[Point]) is adapter_for(list[Point])
    unhashable = Annotated[int, {"a": 1}]
    assert adapter_for(unhashable).validate_python("3") == 3


def test_a_model_defined_inside_a_function_is_refused_with_what_to_do() -> None:
    # this module has `from __future__ import annotations`: every annotation is a string,
    # resolved in the module's globals, where a class defined here is not
    class Local(BaseModel):
        text: str

    def chat(message: Local) -> None: ...

    with pytest.raises(TypeError) as caught:
        inspect_handler(chat, payload_from=0)
    text = str(caught.value)
    assert "cannot resolve the annotations of handler" in text
    assert "'Local' (of 'message')" in text and "<locals>.chat" in text
    assert "from __future__ import annotations" in text
    assert "Define Local at module level" in text
    assert "chat.__annotations__['message'] = Local" in text
    # doing what it says works: the type itself, not its name
    chat.__annotations__["message"] = Local
    spec = inspect_handler(chat, payload_from=0)
    assert isinstance(spec, TypedHandlerSpec)
    assert spec.checker is not None and spec.checker([{"text": "hi"}]) == [Local(text="hi")]

    # a name missing at module level says so, without the remark about functions
    def module_level(message: Missing) -> None: ...  # type: ignore[name-defined]  # noqa: F821

    module_level.__qualname__ = "module_level"
    with pytest.raises(TypeError, match="Define Missing at module level") as caught:
        inspect_handler(module_level, payload_from=0)
    assert "inside a function" not in str(caught.value)
