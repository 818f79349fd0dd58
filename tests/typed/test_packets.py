"""aiosio.typed.packets: packet middlewares (``socket.use``) whose packet parameter is
annotated check and convert every packet before it goes on; a bad one is answered as a
handler's bad payload is, and reaches neither the middleware nor the handlers.

In memory with aiosio's client (aiosio.testing), then over real sockets with the official
socket.io-client (pinned in tests/typed) on both front doors, where the same server's
broadcasts also ask the clients for typed answers (``emit_with_ack(response=...)``).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, Literal

import pytest
from pydantic import BaseModel

import aiosio
import aiosio.testing
from aiosio._handlers import PACKET, HandlerSpec, TypedHandlerSpec, inspect_handler
from aiosio.exceptions import AckTimeout
from aiosio.server.socket import Socket
from aiosio.typed import InvalidPayload
from aiosio.typed.packets import PacketChecker
from tests.interop.sio.sio_helpers import serving
from tests.support.waits import within
from tests.typed.support import node_client


class Note(BaseModel):
    text: str
    stars: int = 0


class Move(BaseModel):
    x: int
    y: int


Packet = (
    tuple[Literal["note"], Note]
    | tuple[Literal["move"], Move]
    | tuple[Literal["ping"]]
    | tuple[Literal["ready"]]
)


def _plain(packet: list[Any]) -> None: ...


def _typed(packet: tuple[Literal["note"], Note]) -> None: ...


def test_only_an_annotated_packet_is_checked_decided_at_registration() -> None:
    for plain in (_plain, lambda packet: None, lambda packet, *rest: None):
        assert type(inspect_handler(plain, payload_from=PACKET)) is HandlerSpec
    spec = inspect_handler(_typed, payload_from=PACKET)
    assert isinstance(spec, TypedHandlerSpec) and isinstance(spec.checker, PacketChecker)
    assert inspect_handler(_typed, payload_from=PACKET).checker is spec.checker  # read once


def typed_server(
    errors: asyncio.Queue[Exception], seen: list[Any], *, extra: Any = None
) -> aiosio.Server:
    io = aiosio.Server()

    @io.on("connection")
    def connected(socket: Socket) -> None:
        @socket.use
        def guard(packet: Packet) -> None:
            seen.append(("guard", packet))

        @socket.use
        def after(packet: list[Any]) -> None:  # the next middleware gets the converted items
            seen.append(("after", list(packet)))

        if extra is not None:
            socket.use(extra)
        socket.on("error", errors.put_nowait)
        socket.on("note", lambda note: note)  # un-annotated: gets the middleware's Note
        socket.on("move", lambda move: [move.x, move.y])
        socket.on("ping", lambda: "pong")

    return io


async def test_a_typed_middleware_converts_the_packet_for_what_follows() -> None:
    errors: asyncio.Queue[Exception] = asyncio.Queue()
    seen: list[Any] = []
    async with aiosio.testing.connect(typed_server(errors, seen)) as client:
        answer = await client.emit_with_ack("note", {"text": "hi", "stars": "3"}, timeout=5)
        assert await client.emit_with_ack("move", {"x": "1", "y": 2}, timeout=5) == [1, 2]
        assert await client.emit_with_ack("ping", timeout=5) == "pong"
    assert answer == {"text": "hi", "stars": 3}
    assert seen[:2] == [
        ("guard", ("note", Note(text="hi", stars=3))),
        ("after", ["note", Note(text="hi", stars=3)]),
    ]
    assert errors.empty()


async def test_a_bad_packet_is_answered_and_goes_no_further() -> None:
    errors: asyncio.Queue[Exception] = asyncio.Queue()
    seen: list[Any] = []
    async with aiosio.testing.connect(typed_server(errors, seen)) as client:
        bad = await client.emit_with_ack("note", {"text": 5, "secret": "pw"}, timeout=5)
        wrong_move = await client.emit_with_ack("move", {"x": 1}, timeout=5)
        unknown = await client.emit_with_ack("other", 1, timeout=5)
        too_many = await client.emit_with_ack("ping", 1, timeout=5)
        client.emit("note", {"nope": True})  # no ack: the error listeners hear it
        unacked = await within(errors.get())
        assert await client.emit_with_ack("ping", timeout=5) == "pong"  # still connected
    assert bad == {
        "error": "invalid_payload",
        "detail": [
            {"type": "string_type", "loc": [1, "text"], "msg": "Input should be a valid string"}
        ],
    }
    assert "pw" not in json.dumps(bad)
    # the alternative of the packet's event only: nothing about note or ping
    assert wrong_move["detail"] == [{"type": "missing", "loc": [1, "y"], "msg": "Field required"}]
    assert [(e["type"], e["loc"]) for e in unknown["detail"]] == [("literal_error", [0])]
    assert "'note', 'move', 'ping'" in unknown["detail"][0]["msg"]
    assert too_many["detail"][0]["type"] == "too_long"
    assert isinstance(unacked, InvalidPayload) and unacked.event == "note"
    assert unacked.errors[0]["loc"] == [1, "text"]
    assert [name for name, _ in seen] == ["guard", "after"]  # only the last ping got through


async def test_on_invalid_answers_a_bad_packet_too() -> None:
    errors: asyncio.Queue[Exception] = asyncio.Queue()
    io = typed_server(errors, [])
    io.on_invalid(lambda socket, invalid: {"ok": False, "where": invalid.errors[0]["loc"]})
    async with aiosio.testing.connect(io) as client:
        answer = await client.emit_with_ack("move", {"x": 1, "y": "up"}, timeout=5)
    assert answer == {"ok": False, "where": [1, "y"]}


async def test_an_async_typed_middleware_and_a_list_changed_in_place() -> None:
    errors: asyncio.Queue[Exception] = asyncio.Queue()
    seen: list[Any] = []

    async def stamp(packet: list[int | str]) -> None:
        await asyncio.sleep(0)
        packet.append("stamped")  # a list annotation gets the packet itself

    io = aiosio.Server()

    @io.on("connection")
    def connected(socket: Socket) -> None:
        socket.use(stamp)
        socket.on("error", errors.put_nowait)
        socket.on("sum", lambda *args: seen.append(args) or "ok")

    async with aiosio.testing.connect(io) as client:
        assert await client.emit_with_ack("sum", "1", 2, timeout=5) == "ok"
        refused = await client.emit_with_ack("sum", {"no": 1}, timeout=5)
    assert seen == [("1", 2, "stamped")]
    assert refused["error"] == "invalid_payload" and refused["detail"][0]["loc"][0] == 1


def test_an_annotation_that_cannot_be_checked_fails_at_registration() -> None:
    def broken(packet: tuple[Literal["x"], Undefined]) -> None: ...  # type: ignore[name-defined]  # noqa: F821

    with pytest.raises(TypeError, match="Undefined"):
        inspect_handler(broken, payload_from=PACKET)


# -- over real sockets: the official client ----------------------------------------------


@pytest.mark.parametrize(("door", "transport"), [("standalone", "websocket"), ("asgi", "polling")])
async def test_the_official_client_through_a_typed_middleware(door: str, transport: str) -> None:
    errors: asyncio.Queue[Exception] = asyncio.Queue()
    seen: list[Any] = []
    io = typed_server(errors, seen)
    ready: asyncio.Future[Socket] = asyncio.get_running_loop().create_future()
    sockets: dict[str, Socket] = {}

    @io.on("connection")
    def named(socket: Socket) -> None:
        sockets[socket.handshake.auth["name"]] = socket
        socket.on("ready", lambda: ready.set_result(socket))

    async with serving(io, door) as url:
        node = await node_client("packets_client.js", url, transport)
        finished = asyncio.ensure_future(node.communicate())
        good = await within(asyncio.shield(ready), 30)
        unacked = await within(errors.get())
        # typed answers: per socket, the bad one an InvalidPayload
        results = await io.timeout(5).emit_with_ack("ask", per_socket=True, response=Note)
        with pytest.raises(InvalidPayload) as caught:
            await io.timeout(5).emit_with_ack("ask", response=Note)
        one = await good.timeout(5).emit_with_ack("ask", response=Note)
        io.emit("bye")
        out, err = await within(finished, 60)
    assert node.returncode == 0, err.decode()
    report = json.loads(out)
    assert report["valid"] == [{"text": "hi", "stars": 3}]
    [invalid] = report["invalid"]
    assert invalid["error"] == "invalid_payload" and "attic" not in json.dumps(invalid)
    assert [e["loc"] for e in invalid["detail"]] == [[1, "text"]]
    assert report["unknown"][0]["detail"][0]["type"] == "literal_error"
    assert report["afterwards"] == ["pong"] and report["connected"] is True
    assert isinstance(unacked, InvalidPayload) and unacked.event == "note"
    assert results[sockets["good"].id] == Note(text="yes", stars=2)
    bad = results[sockets["bad"].id]
    assert isinstance(bad, InvalidPayload) and not isinstance(bad, AckTimeout)
    assert {e["loc"][-1] for e in bad.errors} == {"text", "stars"}
    assert "pw" not in json.dumps(bad.errors)
    assert {e["loc"][-1] for e in caught.value.errors} == {"text", "stars"}
    assert one == Note(text="yes", stars=2)
