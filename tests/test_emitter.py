"""aiosio.emitter: the deprecated path of the Redis emitter.

Kept for one release: it must hand out the very objects of
:mod:`aiosio.adapters.redis.emitter`, so code written against the old path keeps working
and ``isinstance`` checks agree across both paths.
"""

from __future__ import annotations

import importlib

import aiosio.adapters.redis.emitter as new
import aiosio.emitter as old


def test_the_old_path_exports_the_new_objects() -> None:
    assert old.Emitter is new.Emitter
    assert old.EmitterOperator is new.EmitterOperator


def test_the_old_path_exports_nothing_else() -> None:
    assert sorted(old.__all__) == ["Emitter", "EmitterOperator"]
    assert set(old.__all__) <= set(new.__all__)
    namespace: dict[str, object] = {}
    exec("from aiosio.emitter import *", namespace)
    assert {name for name in namespace if not name.startswith("__")} == set(old.__all__)


def test_the_old_path_names_its_successor() -> None:
    doc = old.__doc__ or ""
    assert "aiosio.adapters.redis.emitter" in doc
    assert "eprecated" in doc
    assert importlib.import_module("aiosio.emitter") is old


async def test_an_emitter_from_the_old_path_is_the_new_one() -> None:
    emitter = old.Emitter("redis://127.0.0.1:1", key="k", namespace="admin")
    try:
        assert isinstance(emitter, new.Emitter)
        assert isinstance(emitter.to("room"), new.EmitterOperator)
        assert emitter.namespace == "/admin" and emitter.key == "k"
    finally:
        await emitter.close()
