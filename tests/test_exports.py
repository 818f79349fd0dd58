"""The public API: ``__all__`` is sorted and every name in it exists (httpx's rule)."""

from __future__ import annotations

import importlib

import pytest

import aiosio

MODULES = [
    "aiosio",
    "aiosio.exceptions",
    "aiosio.engineio.packets",
    "aiosio.socketio.packets",
    "aiosio.socketio.parsers",
    "aiosio.compat",
]


def _isort_style(name: str) -> tuple[int, str]:
    """Constants, then classes, then functions, each alphabetical (ruff's RUF022)."""
    if name.isupper():
        return 0, name
    return (1 if name[0].isupper() else 2), name


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_complete(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=_isort_style)
    for attribute in exported:
        assert hasattr(module, attribute), f"{name}.{attribute} is missing"


def test_everyday_names_are_at_the_top() -> None:
    for attribute in ("Server", "Socket", "Namespace", "ConnectionRefused", "AckTimeout"):
        assert attribute in aiosio.__all__
