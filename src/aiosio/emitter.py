"""Deprecated path, kept for one release: the emitter lives in
:mod:`aiosio.adapters.redis.emitter`."""

from aiosio.adapters.redis.emitter import Emitter, EmitterOperator

__all__ = ["Emitter", "EmitterOperator"]
