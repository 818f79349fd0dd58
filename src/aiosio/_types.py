"""Shared type aliases only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

JSON: TypeAlias = Any
"""A user payload: anything the parser can carry (JSON values and ``bytes``)."""

Data: TypeAlias = str | bytes
Handler: TypeAlias = Callable[..., Any]
AsyncHandler: TypeAlias = Callable[..., Awaitable[Any]]
Auth: TypeAlias = dict[str, Any] | None
