"""aiosio.adapters.streams: the deprecated path of the Redis streams adapter.

Kept for one release: it must hand out the very objects of
:mod:`aiosio.adapters.redis.streams` (same classes, same factory), so code written
against the old path keeps working and ``isinstance`` checks agree across both paths.
"""

from __future__ import annotations

import importlib

import aiosio.adapters.redis.streams as new
import aiosio.adapters.streams as old


def test_the_old_path_exports_the_new_objects() -> None:
    assert old.StreamsAdapter is new.StreamsAdapter
    assert old.StreamsAdapterFactory is new.StreamsAdapterFactory
    assert old.streams_adapter is new.streams_adapter


def test_the_old_path_exports_nothing_else() -> None:
    assert sorted(old.__all__) == ["StreamsAdapter", "StreamsAdapterFactory", "streams_adapter"]
    assert set(old.__all__) <= set(getattr(new, "__all__", old.__all__))
    namespace: dict[str, object] = {}
    exec("from aiosio.adapters.streams import *", namespace)
    assert {name for name in namespace if not name.startswith("__")} == set(old.__all__)


def test_the_old_path_names_its_successor() -> None:
    doc = old.__doc__ or ""
    assert "aiosio.adapters.redis.streams" in doc
    assert "eprecated" in doc
    assert importlib.import_module("aiosio.adapters.streams") is old


def test_a_factory_from_the_old_path_is_the_new_one() -> None:
    factory = old.streams_adapter("redis://127.0.0.1:6379", stream_name="never-used")
    assert isinstance(factory, new.StreamsAdapterFactory)
