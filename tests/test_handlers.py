"""aiosio._handlers: handlers read once when registered.

The signature says how many arguments to pass (extra ones dropped, missing ones None),
whether the handler wants the ``ack`` callable (a keyword-only ``ack``), and whether it is
a coroutine function; plain functions are read once per code object, not per function.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import types
from collections.abc import Callable, Generator
from typing import Any, NamedTuple

import pytest

from aiosio._handlers import (
    PARKED,
    HandlerSpec,
    Suspended,
    ack_args,
    inspect_handler,
    run_eagerly,
    until_parked,
)

# -- reading signatures ---------------------------------------------------------------------------


def shape(fn: Callable[..., Any]) -> tuple[bool, int, int | None, bool]:
    spec = inspect_handler(fn)
    return spec.is_async, spec.min_args, spec.max_args, spec.wants_ack


def test_positional_parameters() -> None:
    def none() -> None: ...
    def two(a: Any, b: Any) -> None: ...
    def defaults(a: Any, b: Any = 1, c: Any = 2) -> None: ...
    def positional_only(a: Any, /, b: Any) -> None: ...

    assert shape(none) == (False, 0, 0, False)
    assert shape(two) == (False, 2, 2, False)
    assert shape(defaults) == (False, 1, 3, False)
    assert shape(positional_only) == (False, 2, 2, False)


def test_variadic_and_keyword_parameters() -> None:
    def star(a: Any, *rest: Any) -> None: ...
    def keywords(a: Any, **options: Any) -> None: ...
    def optional_keyword(a: Any, *, flag: bool = False) -> None: ...

    assert shape(star) == (False, 1, None, False)
    assert shape(keywords) == (False, 1, 1, False)  # **kwargs is never filled
    assert shape(optional_keyword) == (False, 1, 1, False)


def test_keyword_only_ack() -> None:
    def wants(a: Any, *, ack: Any) -> None: ...
    def wants_with_default(*, ack: Any = None) -> None: ...
    def positional_named_ack(ack: Any) -> None: ...

    assert shape(wants) == (False, 1, 1, True)
    assert shape(wants_with_default) == (False, 0, 0, True)
    assert shape(positional_named_ack) == (False, 1, 1, False)  # only keyword-only counts


def test_a_required_keyword_only_parameter_is_refused() -> None:
    def needs(a: Any, *, token: str) -> None: ...

    with pytest.raises(TypeError, match="required keyword-only parameter"):
        inspect_handler(needs)


def test_what_cannot_be_a_handler() -> None:
    with pytest.raises(TypeError, match="a handler must be callable, not int"):
        inspect_handler(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="a handler must be callable, not NoneType"):
        inspect_handler(None)  # type: ignore[arg-type]

    class Unreadable:
        __signature__ = "not a signature"

        def __call__(self) -> None: ...

    with pytest.raises(TypeError, match="cannot read the signature"):
        inspect_handler(Unreadable())


def test_methods_classes_and_callables() -> None:
    class Handlers:
        def method(self, a: Any) -> None: ...

        @staticmethod
        def static(a: Any, b: Any) -> None: ...

        def __call__(self, a: Any, *, ack: Any) -> None: ...

    instance = Handlers()
    assert shape(instance.method) == (False, 1, 1, False)  # self is bound
    assert shape(Handlers.static) == (False, 2, 2, False)
    assert shape(instance) == (False, 1, 1, True)
    assert shape([].append) == (False, 1, 1, False)

    class Event:
        def __init__(self, name: str, payload: Any = None) -> None: ...

    assert shape(Event) == (False, 1, 2, False)


def test_wrapped_functions_are_read_through_wraps() -> None:
    def target(a: Any, b: Any, *, ack: Any) -> None: ...

    @functools.wraps(target)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        return target(*args, **kwargs)

    assert shape(wrapper) == (False, 2, 2, True)
    assert shape(functools.partial(target, 1)) == (False, 1, 1, True)


def test_async_detection() -> None:
    async def coroutine_function(a: Any) -> None: ...

    class AsyncCallable:
        async def __call__(self, a: Any) -> None: ...

        async def method(self) -> None: ...

    def returns_a_coroutine(a: Any) -> Any:
        return coroutine_function(a)

    assert shape(coroutine_function) == (True, 1, 1, False)
    assert shape(AsyncCallable()) == (True, 1, 1, False)
    assert shape(AsyncCallable().method) == (True, 0, 0, False)
    assert shape(functools.partial(coroutine_function)) == (True, 1, 1, False)
    assert shape(returns_a_coroutine) == (False, 1, 1, False)  # only what it declares
    assert shape(lambda a: None) == (False, 1, 1, False)


def test_once_is_kept() -> None:
    def handler() -> None: ...

    assert inspect_handler(handler).once is False
    assert inspect_handler(handler, once=True).once is True
    assert inspect_handler(handler).fn is handler


# -- caching by code -------------------------------------------------------------------------------


def test_functions_of_one_code_share_a_reading() -> None:
    specs = [inspect_handler(lambda value, n=n: (value, n)) for n in range(3)]
    assert {(s.min_args, s.max_args) for s in specs} == {(1, 2)}
    assert [spec.fn(10) for spec in specs] == [(10, 0), (10, 1), (10, 2)]  # each its own fn
    assert len({id(spec.fn) for spec in specs}) == 3


def test_the_cache_tells_defaults_apart() -> None:
    def with_default(a: Any, b: Any = 1) -> None: ...

    first = inspect_handler(with_default)
    # Same code, no defaults this time: two required arguments.
    no_default = types.FunctionType(with_default.__code__, globals(), "no_default", None)
    second = inspect_handler(no_default)
    assert (first.min_args, first.max_args) == (1, 2)
    assert (second.min_args, second.max_args) == (2, 2)
    assert inspect_handler(with_default).min_args == 1  # the first reading is intact


def test_the_cache_tells_keyword_defaults_apart() -> None:
    def keyword(a: Any, *, token: Any) -> None: ...

    allowed = types.FunctionType(keyword.__code__, globals(), "allowed", None)
    allowed.__kwdefaults__ = {"token": None}
    assert shape(allowed) == (False, 1, 1, False)
    with pytest.raises(TypeError, match="required keyword-only"):
        inspect_handler(keyword)  # same code, no keyword default: refused, not cached


def test_functions_with_attributes_are_read_each_time() -> None:
    def handler(a: Any, b: Any) -> None: ...

    assert shape(handler) == (False, 2, 2, False)
    other = types.FunctionType(handler.__code__, globals(), "other", None)
    other.__signature__ = inspect.signature(lambda a: None)  # type: ignore[attr-defined]
    assert shape(other) == (False, 1, 1, False)  # its __signature__ wins over the cache


# -- calling ---------------------------------------------------------------------------------------


def test_call_fits_the_arguments() -> None:
    calls: list[tuple[Any, ...]] = []

    def two(a: Any, b: Any) -> str:
        calls.append((a, b))
        return "result"

    spec = inspect_handler(two)
    assert spec.call([1, 2, 3, 4]) == "result"  # extra ones dropped
    spec.call([1])  # missing ones are None
    spec.call(())
    spec.call((5, 6))
    assert calls == [(1, 2), (1, None), (None, None), (5, 6)]


def test_call_keeps_defaults_for_optional_parameters() -> None:
    spec = inspect_handler(lambda a, b="default": (a, b))
    assert spec.call([]) == (None, "default")
    assert spec.call([1]) == (1, "default")
    assert spec.call([1, 2, 3]) == (1, 2)


def test_call_with_variadic_handlers() -> None:
    spec = inspect_handler(lambda first, *rest: (first, rest))
    assert spec.call([]) == (None, ())
    assert spec.call([1, 2, 3]) == (1, (2, 3))


def test_call_passes_the_ack_only_to_handlers_that_want_it() -> None:
    def ack() -> None: ...

    wants = inspect_handler(lambda a, *, ack: (a, ack))
    assert wants.call([1, 2], ack) == (1, ack)
    assert wants.call([]) == (None, None)  # no ack: None is passed
    plain = inspect_handler(lambda a: a)
    assert plain.call([1], ack) == 1


async def test_calling_an_async_handler_returns_its_coroutine() -> None:
    async def handler(a: Any, *, ack: Any) -> Any:
        return a, ack

    spec = inspect_handler(handler)
    pending = spec.call(["x", "extra"], "the ack")
    assert await pending == ("x", "the ack")


def test_handler_spec_is_a_frozen_value() -> None:
    def fn() -> None: ...

    spec = HandlerSpec(fn, False, 0, 0, False)
    assert spec.once is False
    assert spec == HandlerSpec(fn, False, 0, 0, False)
    with pytest.raises(AttributeError):
        spec.once = True  # type: ignore[misc]


class Point(NamedTuple):
    x: int
    y: int


# -- ack_args --------------------------------------------------------------------------------------


def test_ack_args() -> None:
    assert ack_args(None) == []
    assert ack_args(()) == []
    assert ack_args((1, "two", None)) == [1, "two", None]
    assert ack_args([1, 2]) == [[1, 2]]  # a list is one argument
    assert ack_args(0) == [0] and ack_args("") == [""] and ack_args(False) == [False]
    assert ack_args({"a": 1}) == [{"a": 1}]
    point = Point(1, 2)
    assert ack_args(point) == [point]  # only a plain tuple spreads


# -- running coroutine handlers eagerly -------------------------------------------------------

LABEL: contextvars.ContextVar[str] = contextvars.ContextVar("label", default="none")


async def test_run_eagerly_returns_the_result_of_a_coroutine_that_does_not_suspend() -> None:
    async def answer(value: int) -> int:
        return value * 2

    assert run_eagerly(answer(21)) == 42
    assert run_eagerly(answer(1), contextvars.copy_context()) == 2


async def test_run_eagerly_hands_over_the_rest_of_one_that_suspends() -> None:
    steps: list[str] = []

    async def suspends() -> str:
        steps.append("first")
        await asyncio.sleep(0)  # a bare yield
        steps.append("second")
        value = await asyncio.get_running_loop().run_in_executor(None, lambda: "a thread")
        return value + "!"

    rest = run_eagerly(suspends())
    assert type(rest) is Suspended and steps == ["first"]
    assert await asyncio.create_task(_await(rest)) == "a thread!"
    assert steps == ["first", "second"]


async def test_run_eagerly_raises_the_first_step_and_cancels_the_rest_like_await() -> None:
    async def fails() -> None:
        raise ValueError("at once")

    with pytest.raises(ValueError, match="at once"):
        run_eagerly(fails())
    cleaned: list[str] = []

    task = asyncio.create_task(_await(run_eagerly(waits_forever(cleaned))))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == ["cleaned"]


async def test_a_failure_after_the_first_step_reaches_the_awaiting_task() -> None:
    future: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def waits() -> int:
        try:
            return await future
        except KeyError:
            return -1

    rest = run_eagerly(waits())
    task = asyncio.create_task(_await(rest))
    future.set_exception(KeyError("x"))
    assert await task == -1  # thrown into the coroutine, which caught it


async def test_the_context_given_is_the_one_every_step_runs_in() -> None:
    context = contextvars.copy_context()

    async def labels() -> list[str]:
        LABEL.set("mine")
        await asyncio.sleep(0)
        return [LABEL.get()]

    rest = run_eagerly(labels(), context)
    assert LABEL.get() == "none"  # the first step set it in ``context`` only
    assert context[LABEL] == "mine"
    assert await asyncio.create_task(_await(rest)) == ["mine"]
    assert LABEL.get() == "none"


async def test_an_awaitable_that_is_not_a_coroutine_is_run_too() -> None:
    future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    future.set_result("done")
    assert run_eagerly(future) == "done"


async def test_closing_the_rest_closes_the_coroutine() -> None:
    cleaned: list[str] = []

    steps = run_eagerly(waits_forever(cleaned)).__await__()
    next(steps)  # as a task's first step would: the future waited on
    steps.close()  # as a task collected unfinished would
    assert cleaned == ["cleaned"]


async def waits_forever(cleaned: list[str]) -> None:
    try:
        await asyncio.Event().wait()
    finally:
        cleaned.append("cleaned")


async def _await(awaitable: Any) -> Any:
    return await awaitable


@types.coroutine
def two_turns(log: list[str]) -> Generator[Any, Any, None]:
    """A parking generator: each turn waits on a timer, then parks."""
    while True:
        log.append("turn")
        yield from asyncio.sleep(0.001).__await__()
        log.append("done")
        yield PARKED


async def test_until_parked_awaits_the_rest_of_a_turn() -> None:
    log: list[str] = []
    turns = two_turns(log)
    for _ in range(2):  # the generator goes on after it parks: a turn each time
        pending = turns.send(None)
        assert pending is not PARKED  # waiting on the timer
        await until_parked(turns, pending)
    assert log == ["turn", "done", "turn", "done"]


async def test_until_parked_throws_a_cancellation_into_the_generator() -> None:
    log: list[str] = []
    turns = two_turns(log)
    pending = turns.send(None)
    task = asyncio.ensure_future(until_parked(turns, pending))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert log == ["turn"]
    with pytest.raises(StopIteration):
        turns.send(None)  # ended by the cancellation
