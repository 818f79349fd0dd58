"""Bounded waits: a test fails instead of hanging."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def within(pending: Awaitable[T], seconds: float = 2.0) -> T:
    """``pending``, or a failure instead of a hang."""
    async with asyncio.timeout(seconds):
        return await pending


class Watch:
    """Wait for a condition that callbacks make true: each :meth:`poke` (a handler of the
    events that change it) wakes :meth:`until`, which checks the condition again."""

    def __init__(self) -> None:
        self._changed = asyncio.Event()

    def poke(self, *args: object) -> None:
        self._changed.set()

    async def until(self, condition: Callable[[], object], seconds: float = 5.0) -> None:
        async with asyncio.timeout(seconds):
            while not condition():
                await self._changed.wait()
                self._changed.clear()
