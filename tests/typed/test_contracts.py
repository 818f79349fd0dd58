"""aiosio.typed.contracts: declared outgoing events and their check."""

from __future__ import annotations

import dataclasses
from typing import Any, Protocol

import pytest
from pydantic import BaseModel

from aiosio.exceptions import LocalProtocolError
from aiosio.typed.contracts import NO_ACK, Declared, declarations_of


class Note(BaseModel):
    text: str


@dataclasses.dataclass
class Spot:
    x: int


def test_check_accepts_what_fits_and_names_what_does_not() -> None:
    declared = Declared("note", (Note, int, Any))
    declared.check([Note(text="a"), 1, object()])
    declared.check([{"text": "a"}, "2", None])  # what validates is what the client gets
    with pytest.raises(LocalProtocolError, match=r"'note' does not match .*0\.text: Field req"):
        declared.check([{}, 1, None])
    with pytest.raises(LocalProtocolError, match=r"1: Input should be a valid integer"):
        declared.check([Note(text="a"), "x", None])
    with pytest.raises(LocalProtocolError, match="declared with 3 argument"):
        declared.check([Note(text="a")])


def test_check_never_shows_the_values() -> None:
    with pytest.raises(LocalProtocolError) as caught:
        Declared("secret", (int,)).check(["password123"])
    assert "password123" not in str(caught.value)


def test_a_class_of_events_declares_each_public_method() -> None:
    class Events(Protocol):
        def note(self, value: Note, count: int = 1, *, ack: Spot) -> None:
            """A note arrived."""

        def spot(self, where: Spot) -> None: ...

        def _private(self, x: int) -> None: ...

    found = {d.event: d for d in declarations_of(Events)}
    assert set(found) == {"note", "spot"}
    assert found["note"] == Declared(
        "note", (Note, int), Spot, ("value", "count"), "A note arrived."
    )
    assert found["spot"].ack is NO_ACK and found["spot"].args == (Spot,)
    assert repr(NO_ACK) == "NO_ACK"
