"""Bounded waits: a test fails instead of hanging."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def within(pending: Awaitable[T], seconds: float = 2.0) -> T:
    """``pending``, or a failure instead of a hang."""
    async with asyncio.timeout(seconds):
        return await pending
