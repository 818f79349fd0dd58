"""aiosio.server.typed: validated handlers on the server, what a bad payload gets, declared
emits checked at the call, namespace-level handlers and the served AsyncAPI document.

Clients are aiosio's own, connected in memory (aiosio.testing): every packet is encoded
and decoded as over a network. The official client's side is in tests/typed/test_interop.py.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import decimal
import enum
import logging
import uuid
from typing import Any, Literal

import httpx
import orjson
import pytest
from pydantic import BaseModel

import aiosio
import aiosio.testing
from aiosio._handlers import HandlerSpec
from aiosio.exceptions import ConnectionError, LocalProtocolError, ReservedEventError
from aiosio.server.http import HTTPRequest
from aiosio.server.socket import Socket
from aiosio.server.typed import CheckedSocket
from aiosio.typed import InvalidPayload
from tests.support.servers import running
from tests.support.waits import within


class Note(BaseModel):
    text: str
    stars: int = 0


class Saved(BaseModel):
    id: uuid.UUID
    at: datetime.datetime


class Color(enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Spot:
    x: int
    y: int


def server_with(register: Any) -> aiosio.Server:
    io = aiosio.Server()

    @io.on("connection")
    def connected(socket: Socket) -> None:
        register(socket)

    return io


# -- validated socket handlers -------------------------------------------------------------------


async def test_a_typed_handler_gets_converted_arguments_and_its_model_answers() -> None:
    saved = Saved(id=uuid.uuid4(), at=datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC))
    seen: list[Any] = []

    def register(socket: Socket) -> None:
        @socket.on("note")
        async def note(value: Note, room: Literal["a", "b"]) -> Saved:
            seen.append((value, room))
            return saved

    async with aiosio.testing.connect(server_with(register)) as client:
        answer = await client.emit_with_ack("note", {"text": "hi", "stars": "3"}, "a", timeout=5)
    assert seen == [(Note(text="hi", stars=3), "a")]
    assert answer == {"id": str(saved.id), "at": "2026-01-01T00:00:00Z"}


async def test_a_bad_payload_is_answered_and_the_handler_not_called(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[Any] = []
    sockets: list[Socket] = []

    def register(socket: Socket) -> None:
        sockets.append(socket)
        socket.on("note", lambda value, room="a": calls.append(value))  # plain: untouched
        socket.on("typed", lambda value: calls.append(value))

        @socket.on("strict")
        def strict(value: Note) -> str:
            calls.append(value)
            return "ok"

    caplog.set_level(logging.WARNING, "aiosio.socket")
    async with aiosio.testing.connect(server_with(register)) as client:
        for _ in range(2):
            answer = await client.emit_with_ack(
                "strict", {"stars": "x", "pw": "hunter2"}, timeout=5
            )
            assert answer["error"] == "invalid_payload"
            assert [(e["loc"], e["type"]) for e in answer["detail"]] == [
                ([0, "text"], "missing"),
                ([0, "stars"], "int_parsing"),
            ]
            assert "hunter2" not in repr(answer)
        assert await client.emit_with_ack("strict", {"text": "ok"}, timeout=5) == "ok"
        assert sockets[0].connected  # never a disconnect
    assert calls == [Note(text="ok")]
    logged = [r for r in caplog.records if "invalid payload" in r.getMessage()]
    assert len(logged) == 1  # once per connection and event
    assert not logged[0].exc_info and "hunter2" not in logged[0].getMessage()  # no traceback


async def test_without_an_ack_the_error_listeners_hear_it() -> None:
    errors: asyncio.Queue[Exception] = asyncio.Queue()

    def register(socket: Socket) -> None:
        socket.on("error", errors.put_nowait)
        socket.on("spot", lambda spot: None)  # untyped: no error
        socket.on("typed", _typed_spot)

    async with aiosio.testing.connect(server_with(register)) as client:
        client.emit("typed", {"x": "no"})
        error = await within(errors.get())
    assert isinstance(error, InvalidPayload)
    assert error.event == "typed" and error.errors[0]["loc"] == [0, "x"]


def _typed_spot(spot: Spot) -> None: ...


async def test_the_on_invalid_hook_chooses_the_answer_and_may_disconnect() -> None:
    io = server_with(lambda socket: socket.on("spot", _typed_spot))
    seen: list[tuple[str, Any]] = []

    @io.on_invalid
    def hook(socket: Socket, invalid: InvalidPayload) -> Any:
        seen.append((invalid.event, invalid.errors[0]["type"]))
        if len(seen) == 2:
            socket.disconnect()
            return None
        return {"nope": len(invalid.errors)}

    async with aiosio.testing.connect(io) as client:
        assert await client.emit_with_ack("spot", {"x": 1}, timeout=5) == {"nope": 1}
        gone = asyncio.get_running_loop().create_future()
        client.on("disconnect", lambda *args: gone.done() or gone.set_result(args[0]))
        client.emit("spot", "not a spot")
        assert await within(gone) == "io server disconnect"
    assert seen == [("spot", "missing"), ("spot", "dataclass_type")]


async def test_bytes_arrive_as_binary_attachments() -> None:
    def register(socket: Socket) -> None:
        @socket.on("upload")
        def upload(name: str, data: bytes) -> tuple[str, int]:
            return name, len(data)

    async with aiosio.testing.connect(server_with(register)) as client:
        assert await client.emit_with_ack("upload", "f", b"\x00" * 5, timeout=5) == ("f", 5)
        answer = await client.emit_with_ack("upload", "f", {"not": "bytes"}, timeout=5)
    assert answer["detail"][0]["loc"] == [1]


# -- typed emits ---------------------------------------------------------------------------------


async def test_models_and_plain_python_types_are_emitted_as_json() -> None:
    key = uuid.UUID(int=7)
    at = datetime.datetime(2026, 2, 3, 4, 5, 6, tzinfo=datetime.UTC)

    def register(socket: Socket) -> None:
        socket.on("go", lambda: socket.emit("typed", *values))

    values = (Note(text="a"), Spot(1, 2), at, key, decimal.Decimal("1.10"), Color.RED)
    async with aiosio.testing.connect(server_with(register)) as client:
        got = asyncio.get_running_loop().create_future()
        client.on("typed", lambda *args: got.set_result(args))
        client.emit("go")
        emitted = list(await within(got))
    assert emitted == [
        {"text": "a", "stars": 0},
        {"x": 1, "y": 2},
        "2026-02-03T04:05:06+00:00",
        str(key),
        "1.10",
        "red",
    ]


async def test_emit_with_ack_checks_the_answer_against_response() -> None:
    answers = asyncio.Queue[Any]()

    def register(socket: Socket) -> None:
        answers.put_nowait(socket)

    io = server_with(register)
    async with aiosio.testing.connect(io) as client:
        client.on("ask", lambda: {"text": "yes", "stars": 2})
        client.on("ask_bad", lambda: {"stars": "many"})
        socket = await within(answers.get())
        assert await socket.emit_with_ack("ask", timeout=5, response=Note) == Note(
            text="yes", stars=2
        )
        with pytest.raises(InvalidPayload) as caught:
            await socket.emit_with_ack("ask_bad", timeout=5, response=Note)
        assert {e["loc"][-1] for e in caught.value.errors} == {"text", "stars"}


# -- the client's handlers -----------------------------------------------------------------------


async def test_the_client_validates_too_and_answers_a_bad_payload() -> None:
    sockets = asyncio.Queue[Socket]()
    io = server_with(sockets.put_nowait)
    seen: list[Any] = []
    async with aiosio.testing.connect(io) as client:

        @client.on("spot")
        def spot(value: Spot) -> str:
            seen.append(value)
            return "ok"

        socket = await within(sockets.get())
        assert await socket.emit_with_ack("spot", {"x": 1, "y": "2"}, timeout=5) == "ok"
        answer = await socket.emit_with_ack("spot", {"x": 1}, timeout=5)
    assert seen == [Spot(1, 2)]
    assert answer == {
        "error": "invalid_payload",
        "detail": [{"type": "missing", "loc": [0, "y"], "msg": "Field required"}],
    }


# -- middlewares: the handshake's auth -----------------------------------------------------------


class Credentials(BaseModel):
    token: str
    name: str


async def test_a_typed_middleware_checks_the_auth_payload() -> None:
    io = aiosio.Server()
    names: list[str] = []

    @io.use
    def authenticate(socket: Socket, auth: Credentials) -> None:
        names.append(auth.name)

    async with aiosio.testing.connect(io, auth={"token": "t", "name": "ada"}):
        pass
    with pytest.raises(ConnectionError) as caught:
        await aiosio.testing.connect(io, auth={"token": "secret-token"})
    assert caught.value.message == "invalid_payload"
    assert caught.value.data == {
        "error": "invalid_payload",
        "detail": [{"type": "missing", "loc": [0, "name"], "msg": "Field required"}],
    }
    assert names == ["ada"]


# -- namespace-level handlers --------------------------------------------------------------------


async def test_handle_registers_for_every_socket_and_socket_handlers_come_first() -> None:
    io = aiosio.Server()

    @io.handle("note")
    def note(socket: Socket, value: Note) -> str:
        return f"{socket.nsp.name}:{value.text}"

    @io.of("/other").handle("note")
    def other(socket: Socket, value: Note) -> str:
        return "other"

    @io.on("connection")
    def connected(socket: Socket) -> None:
        if socket.handshake.auth.get("own"):
            socket.on("note", lambda value: "own")

    async with aiosio.testing.connect(io) as client:
        assert await client.emit_with_ack("note", {"text": "x"}, timeout=5) == "/:x"
        assert (await client.emit_with_ack("note", {}, timeout=5))["error"] == "invalid_payload"
    async with aiosio.testing.connect(io, auth={"own": True}) as client:
        assert await client.emit_with_ack("note", {}, timeout=5) == "own"
    async with aiosio.testing.connect(io, "/other") as client:
        assert await client.emit_with_ack("note", {"text": "x"}, timeout=5) == "other"
    with pytest.raises(ReservedEventError):
        io.handle("disconnect", lambda socket: None)


async def test_a_dynamic_child_shares_its_parents_contracts() -> None:
    io = aiosio.Server()
    parent = io.of(lambda name, auth: name.startswith("/room-"))
    parent.handle("note", lambda socket, value: socket.nsp.name)
    async with aiosio.testing.connect(io, "/room-1") as client:
        assert await client.emit_with_ack("note", 1, timeout=5) == "/room-1"


# -- declared emits ------------------------------------------------------------------------------


async def test_declared_emits_are_checked_when_asked() -> None:
    io = aiosio.Server()
    io.declare("note", Note)
    sockets = asyncio.Queue[Socket]()
    io.on("connection", sockets.put_nowait)
    assert not io.check_emits  # off unless python -X dev
    async with aiosio.testing.connect(io) as client:
        socket = await within(sockets.get())
        assert type(socket) is Socket
        socket.emit("note", 42)  # not checked: production
        io.check_emits = True
        async with aiosio.testing.connect(io):
            checked = await within(sockets.get())
        assert type(checked) is CheckedSocket
        checked.emit("note", Note(text="a"))
        checked.emit("note", {"text": "a"})  # what fits the model fits
        checked.emit("other", 42)  # undeclared: free
        with pytest.raises(LocalProtocolError, match=r"'note' does not match .*0.text: Field"):
            checked.emit("note", {"stars": 1})
        with pytest.raises(LocalProtocolError, match="declared with 1 argument"):
            checked.emit("note", Note(text="a"), 2)
        with pytest.raises(LocalProtocolError):
            io.emit("note", 42)
        with pytest.raises(LocalProtocolError):
            io.to("room").emit("note", 42)
        with pytest.raises(LocalProtocolError):
            await io.timeout(1).emit_with_ack("note", 42)
        io.check_emits = False
        io.emit("note", 42)
        del client


def test_declare_refuses_reserved_names_and_reads_classes() -> None:
    io = aiosio.Server()
    with pytest.raises(ReservedEventError):
        io.declare("connect", Note)

    class Events:
        def note(self, value: Note, *, ack: Saved) -> None:
            """A note."""

        def spot(self, where: Spot) -> None: ...

    io.declare(Events)
    declared = io.of("/").declared
    assert set(declared) == {"note", "spot"}
    assert declared["note"].args == (Note,) and declared["note"].ack is Saved
    assert declared["note"].names == ("value",) and declared["note"].description == "A note."


# -- the AsyncAPI document, served ---------------------------------------------------------------


def test_asyncapi_path_serves_the_document() -> None:
    io = aiosio.Server()
    io.handle("note", _note_handler)
    assert io.asyncapi_path is None
    io.asyncapi_path = "/asyncapi.json"
    route = io.router.routes["/asyncapi.json"]
    response = route(HTTPRequest("GET", "/asyncapi.json", {}, {}))
    assert response.status == 200
    assert ("content-type", "application/json") in response.headers
    document = orjson.loads(response.body)
    assert document["asyncapi"] == "3.0.0"
    assert document["channels"]["root"]["address"] == "/"
    io.asyncapi_path = "/docs.json"
    assert "/asyncapi.json" not in io.router.routes and "/docs.json" in io.router.routes
    io.asyncapi_path = None
    assert "/docs.json" not in io.router.routes


def _note_handler(socket: Socket, value: Note) -> Saved: ...


def test_handlers_of_local_events_are_never_checked() -> None:
    io = aiosio.Server()
    sockets: list[Socket] = []
    io.on("connection", sockets.append)

    def on_disconnect(reason: int) -> None: ...  # a wrong annotation, never checked

    async def run() -> None:
        async with aiosio.testing.connect(io):
            sockets[0].on("disconnect", on_disconnect)
            assert type(sockets[0]._handlers["disconnect"][0]) is HandlerSpec

    asyncio.run(run())


async def test_the_document_is_served_over_http() -> None:
    io = aiosio.Server()
    io.handle("note", _note_handler)
    io.asyncapi_path = "/asyncapi.json"
    async with running(io) as url, httpx.AsyncClient() as http:
        response = await http.get(f"{url}/asyncapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == io.asyncapi()


async def test_the_client_emits_models_too() -> None:
    seen = asyncio.Queue[Any]()

    def register(socket: Socket) -> None:
        socket.on("note", lambda value: seen.put_nowait(value))

    async with aiosio.testing.connect(server_with(register)) as client:
        client.emit("note", Note(text="from the client", stars=1))
        assert await within(seen.get()) == {"text": "from the client", "stars": 1}
