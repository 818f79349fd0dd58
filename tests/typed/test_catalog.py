"""aiosio.typed.catalog: what the documents describe, read from a server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

import aiosio
from aiosio.server.socket import Socket
from aiosio.typed.catalog import answer_types, collect, json_schemas, key_of
from aiosio.typed.contracts import NO_ACK


class Note(BaseModel):
    text: str


class Auth(BaseModel):
    token: str


def test_collect_reads_handlers_declarations_and_the_auth_middleware() -> None:
    io = aiosio.Server()

    @io.handle("note")
    def note(socket: Socket, value: Note, room: str = "a") -> int:
        """Post a note."""
        return 1

    @io.handle("self")
    def answers_itself(socket: Socket, value: int, *, ack: Callable[[Note], None]) -> None: ...

    io.handle("quiet", lambda socket, value: None)
    io.of("/empty")
    io.of("/admin").declare("alert", str, ack=bool)
    io.of("/admin").use(lambda socket: None)

    @io.use
    def auth(socket: Socket, payload: Auth) -> None: ...

    io.of(lambda name, auth: True).handle("ignored", lambda socket: None)  # dynamic: skipped

    found = collect(io)
    assert [c.namespace for c in found] == ["/", "/admin"]
    root, admin = found
    events = {e.name: e for e in root.incoming}
    assert events["note"].args == (Note, str) and events["note"].names == ("value", "room")
    assert events["note"].required == 1 and events["note"].ack is int
    assert events["note"].description == "Post a note."
    assert events["self"].ack is Note
    assert events["quiet"].args == (Any,) and events["quiet"].ack is Any
    assert root.auth is Auth and admin.auth is None
    assert admin.outgoing[0].name == "alert" and admin.outgoing[0].ack is bool
    assert admin.outgoing[0].names == ("arg0",)


def test_a_handler_returning_none_has_no_ack() -> None:
    io = aiosio.Server()

    @io.handle("move")
    def move(socket: Socket, x: int) -> None: ...

    assert collect(io)[0].incoming[0].ack is NO_ACK


def test_answer_types_and_keys() -> None:
    assert answer_types(tuple[str, int]) == (str, int)
    assert answer_types(tuple[int, ...]) == (tuple[int, ...],)
    assert answer_types(Note) == (Note,)
    assert key_of("/") == "root" and key_of("/a b:c") == "a_b_c" and key_of("chat.x") == "chat.x"


def test_json_schemas_share_definitions() -> None:
    schemas, definitions = json_schemas(
        [("a", Note, "validation"), ("b", list[Note], "serialization"), ("c", Any, "validation")],
        "#/defs/{model}",
    )
    assert schemas["a"] == {"$ref": "#/defs/Note"}
    assert schemas["b"] == {"type": "array", "items": {"$ref": "#/defs/Note"}}
    assert schemas["c"] == {}
    assert set(definitions) == {"Note"}
