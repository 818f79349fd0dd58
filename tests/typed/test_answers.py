"""``response=`` on every path that waits for acknowledgements: a broadcast's
``emit_with_ack`` (a list that raises, or per socket with an InvalidPayload entry), the
flagged emitters ``socket.timeout(s)`` and ``client.timeout(s)``, in memory with aiosio's
client (aiosio.testing); the blocking SyncClient over a real socket. The official
client's answers over real sockets are in tests/typed/test_packets.py,
``server_side_emit(..., response=)`` on Redis in
tests/adapters/redis/test_typed_broadcasts.py."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pydantic import BaseModel

import aiosio
import aiosio.testing
from aiosio.exceptions import AckTimeout
from aiosio.server.socket import Socket
from aiosio.typed import InvalidPayload
from aiosio.typed.validation import convert_answers, convert_per_socket
from tests.support.waits import within


class Note(BaseModel):
    text: str
    stars: int = 0


def test_the_converters_locate_errors_and_keep_other_entries() -> None:
    assert convert_answers(Note, [{"text": "a"}, {"text": "b", "stars": "2"}]) == [
        Note(text="a"),
        Note(text="b", stars=2),
    ]
    with pytest.raises(InvalidPayload) as caught:
        convert_answers(Note, [{"text": "a"}, {"stars": "x"}])
    assert [e["loc"] for e in caught.value.errors] == [[1, "text"], [1, "stars"]]
    assert convert_answers(Any, [1, "x"]) == [1, "x"]
    timeout = AckTimeout("no answer")
    results = convert_per_socket(
        Note, {"a": [{"text": "a"}], "b": [{"text": 1}], "c": timeout, "d": []}
    )
    assert results["a"] == Note(text="a") and results["c"] is timeout
    assert isinstance(results["b"], InvalidPayload) and results["b"].errors[0]["loc"] == ["text"]
    assert isinstance(results["d"], InvalidPayload)  # no answer at all is not a Note
    assert convert_per_socket(tuple[int, str], {"a": [1, "x"]}) == {"a": (1, "x")}


async def test_a_broadcast_converts_every_answer_or_raises() -> None:
    io = aiosio.Server()
    sockets: asyncio.Queue[Socket] = asyncio.Queue()
    io.on("connection", sockets.put_nowait)
    async with aiosio.testing.serve(io) as server:
        good = await server.connect()
        good.on("ask", lambda: {"text": "yes", "stars": "2"})
        good_socket = await within(sockets.get())
        assert await io.emit_with_ack("ask", response=Note) == [Note(text="yes", stars=2)]
        assert await io.of("/").timeout(5).emit_with_ack("ask", response=Note) == [
            Note(text="yes", stars=2)
        ]
        bad = await server.connect()
        bad.on("ask", lambda: {"stars": "many"})
        bad_socket = await within(sockets.get())
        with pytest.raises(InvalidPayload) as caught:
            await io.timeout(5).emit_with_ack("ask", response=Note)
        results = await io.timeout(5).emit_with_ack("ask", per_socket=True, response=Note)
        await server.connect()  # answers nothing: its entry stays an AckTimeout
        silent_socket = await within(sockets.get())
        late = await io.timeout(0.3).emit_with_ack("ask", per_socket=True, response=Note)
        plain = await io.timeout(5).to(bad_socket.id).emit_with_ack("ask", per_socket=True)
    assert {e["type"] for e in caught.value.errors} == {"missing", "int_parsing"}
    assert [e["loc"][1:] for e in caught.value.errors] == [["text"], ["stars"]]
    assert results[good_socket.id] == Note(text="yes", stars=2)
    assert isinstance(results[bad_socket.id], InvalidPayload)
    assert results[bad_socket.id].errors[0]["loc"] == ["text"]
    assert isinstance(late[silent_socket.id], AckTimeout) and late[good_socket.id] == Note(
        text="yes", stars=2
    )
    assert plain == {bad_socket.id: [{"stars": "many"}]}  # without response: as before


async def test_the_flagged_emitters_take_a_response_type() -> None:
    io = aiosio.Server()
    sockets: asyncio.Queue[Socket] = asyncio.Queue()

    @io.on("connection")
    def connected(socket: Socket) -> None:
        socket.on("ask", lambda good: {"text": "yes"} if good else {"text": None})
        sockets.put_nowait(socket)

    async with aiosio.testing.connect(io) as client:
        client.on("ask", lambda good: {"text": "yes", "stars": "1"} if good else [])
        socket = await within(sockets.get())
        assert await socket.timeout(5).emit_with_ack("ask", True, response=Note) == Note(
            text="yes", stars=1
        )
        with pytest.raises(InvalidPayload):
            await socket.timeout(5).compress(False).emit_with_ack("ask", False, response=Note)
        assert await socket.timeout(5).emit_with_ack("ask", True) == {"text": "yes", "stars": "1"}
        assert await client.timeout(5).emit_with_ack("ask", True, response=Note) == Note(text="yes")
        with pytest.raises(InvalidPayload):
            await client.timeout(5).emit_with_ack("ask", False, response=Note)


def _blocking_session(url: str) -> tuple[Any, Any, Exception | None]:
    with aiosio.SyncClient(url, transports=["websocket"], force_new=True) as client:
        client.connect(timeout=10)
        good = client.emit_with_ack("ask", True, timeout=10, response=Note)
        called = client.call("ask", True, response=Note)
        try:
            client.call("ask", False, response=Note)
        except InvalidPayload as invalid:
            return good, called, invalid
    return good, called, None


async def test_the_blocking_client_takes_a_response_type_over_a_real_socket() -> None:
    io = aiosio.Server()

    @io.on("connection")
    def connected(socket: Socket) -> None:
        socket.on("ask", lambda good: {"text": "yes", "stars": "4"} if good else {"text": []})

    port = await io.start("127.0.0.1", 0)
    try:
        good, called, invalid = await asyncio.to_thread(
            _blocking_session, f"http://127.0.0.1:{port}"
        )
    finally:
        await io.close()
    assert good == called == Note(text="yes", stars=4)
    assert isinstance(invalid, InvalidPayload) and invalid.errors[0]["loc"] == ["text"]
