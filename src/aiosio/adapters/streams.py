"""Deprecated path, kept for one release: the streams adapter lives in
:mod:`aiosio.adapters.redis.streams`."""

from aiosio.adapters.redis.streams import StreamsAdapter, StreamsAdapterFactory, streams_adapter

__all__ = ["StreamsAdapter", "StreamsAdapterFactory", "streams_adapter"]
