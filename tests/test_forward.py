"""aiosio._forward: the read-only forwarding attribute of the client-side classes, and
the name, signature and docstring a forwarding method carries."""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from aiosio._forward import Forward, carry


class Inner:
    def __init__(self) -> None:
        self.name: str | None = "first"
        self.count = 1


class Outer:
    name = Forward[str | None]("inner", "The inner object's name.")
    count = Forward[int]("inner")

    def __init__(self) -> None:
        self.inner = Inner()


def test_reads_the_target_attribute_each_time() -> None:
    outer = Outer()
    assert (outer.name, outer.count) == ("first", 1)
    outer.inner.name = None
    outer.inner.count = 2
    assert (outer.name, outer.count) == (None, 2)
    outer.inner = Inner()
    assert outer.name == "first"


def test_is_read_only() -> None:
    outer = Outer()
    with pytest.raises(AttributeError, match=r"Outer\.name is read-only"):
        outer.name = "other"  # type: ignore[assignment]
    with pytest.raises(AttributeError, match=r"Outer\.count is read-only"):
        del outer.count
    assert outer.name == "first" and "name" not in vars(outer)


def test_on_the_class_it_is_the_descriptor_with_its_doc() -> None:
    assert isinstance(Outer.name, Forward)
    assert Outer.name.__doc__ == "The inner object's name."
    assert Outer.count.__doc__ is None
    assert (Outer.name.target, Outer.name.name) == ("inner", "name")


def test_a_missing_target_raises_attribute_error() -> None:
    outer = Outer()
    del outer.inner
    with pytest.raises(AttributeError):
        _ = outer.count


def test_carry_gives_the_forwarder_the_methods_name_signature_and_docstring() -> None:
    def target(self: Any, room: str, *, limit: int = 3) -> int:
        """Count the room.

        Args:
            room: Which.
            limit: At most.

        Returns:
            The count.
        """
        return limit

    def forward(self: Any, *args: Any, **kwargs: Any) -> int:
        return int(target(self, *args, **kwargs))

    carried = carry(forward, target, "Elsewhere: the same call on another object.")
    assert carried is forward
    assert forward.__name__ == "target"
    assert forward.__module__ == __name__
    assert inspect.signature(forward) == inspect.signature(target)
    assert (forward.__doc__ or "").split("\n\n")[:2] == [
        "Count the room.",
        "Elsewhere: the same call on another object.",
    ]
    assert "Args:\n    room: Which." in (forward.__doc__ or "")
