"""Typed events: handlers validated from their annotations, declared emits, and the
documents generated from them (an AsyncAPI 3.0 document, TypeScript declarations).

See docs/typed-events.md. pydantic (``pip install 'aiosio[validation]'``) is imported only
when a handler has annotations to check or a document is generated.
"""

from aiosio.typed.contracts import NO_ACK, Declared
from aiosio.typed.validation import INVALID_PAYLOAD, InvalidPayload

__all__ = ["INVALID_PAYLOAD", "NO_ACK", "Declared", "InvalidPayload"]
