"""Typed values as plain data, for the parsers (sans-I/O).

orjson writes dataclasses, datetimes, UUIDs and enums itself, in one call; what it refuses
comes here, through its ``default`` hook, only when an emit holds such a value: the plain
emit path never calls this module.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import uuid
from decimal import Decimal

__all__ = ["plain_value"]


def plain_value(value: object) -> object:
    """What a typed value is sent as, for values orjson does not write itself.

    pydantic models become ``model_dump(mode="json")`` (found by their serializer:
    pydantic is never imported here), ``Decimal`` its exact text (as pydantic writes it).
    For parsers other than JSON (msgpack), also what orjson writes natively: datetimes,
    dates and times in ISO 8601, UUIDs as text, enums as their value, dataclasses as a
    dict of their fields.

    Raises:
        TypeError: For anything else.
    """
    kind = type(value)
    if getattr(kind, "__pydantic_serializer__", None) is not None and hasattr(kind, "model_dump"):
        return value.model_dump(mode="json")  # type: ignore[attr-defined]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    raise TypeError(f"{kind.__name__} is not JSON serialisable")
