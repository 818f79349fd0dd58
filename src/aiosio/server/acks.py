"""The helpers of acknowledgements: answering with their arguments, calling callbacks
safely, and naming what a parser refused in an answer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

__all__ = ["Unencodable", "ack_result", "culprit", "safe_call"]

logger = logging.getLogger("aiosio.socket")


class Unencodable:
    """Says which value of an answer the parser refused, when the line is written (a
    client repeating the event costs no search once it was logged)."""

    __slots__ = ("_args", "_parser")

    def __init__(self, parser: Any, args: list[Any]) -> None:
        self._parser = parser
        self._args = args

    def __str__(self) -> str:
        parser = self._parser
        what, note = culprit(parser, self._args, 0)
        kind = "JSON" if parser.name == "json" else parser.name
        return f"{what} is not {kind}-serialisable{note}"


_SEARCH_DEPTH = 300  # deeper than orjson writes (254 levels): a cycle stops the search here


def culprit(parser: Any, value: Any, depth: int) -> tuple[str, str]:
    """What in ``value`` (refused by ``parser``) it cannot encode: the type of the first
    part, depth first, that does not encode on its own, and a note."""

    def encodes(item: Any) -> bool:
        try:
            parser.encode_ack("/", [item], 0)
        except Exception:
            return False
        return True

    kind = type(value)
    if kind is list or kind is tuple or kind is dict:
        if depth < _SEARCH_DEPTH:
            if kind is dict:
                for key, item in value.items():
                    if not encodes({key: None}):
                        return f"a dict key of type {type(key).__name__}", ""
                    if not encodes(item):
                        return culprit(parser, item, depth + 1)
            else:
                for item in value:
                    if not encodes(item):
                        return culprit(parser, item, depth + 1)
        # Every part encodes on its own: the whole is too deep (or contains itself).
        return kind.__name__, " (nested too deep, or containing itself)"
    return kind.__name__, ""


def ack_result(args: tuple[Any, ...] | list[Any]) -> Any:
    if not args:
        return None
    if len(args) == 1:
        return args[0]
    return tuple(args)


def safe_call(fn: Callable[..., Any], *args: Any) -> None:
    try:
        result = fn(*args)
        if asyncio.iscoroutine(result):
            asyncio.get_running_loop().create_task(result)
    except Exception:
        logger.exception("callback %r failed", fn)
