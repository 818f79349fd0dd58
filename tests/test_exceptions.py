"""aiosio.exceptions: the server and the client refuse a reserved event name with the same
error, which is both a LocalProtocolError (the client raised one) and a ValueError (the
server raised one)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import pytest

import aiosio
import aiosio.testing
from aiosio.exceptions import LocalProtocolError, ProtocolError, ReservedEventError
from aiosio.socketio.packets import RESERVED_EVENTS, encode_event

T = TypeVar("T")


async def within(pending: Awaitable[T], seconds: float = 2.0) -> T:
    async with asyncio.timeout(seconds):
        return await pending


def test_reserved_event_error_is_both_kinds() -> None:
    assert issubclass(ReservedEventError, LocalProtocolError)
    assert issubclass(ReservedEventError, ProtocolError)
    assert issubclass(ReservedEventError, ValueError)
    assert "ReservedEventError" in aiosio.exceptions.__all__


@pytest.mark.parametrize("event", sorted(RESERVED_EVENTS))
def test_the_codec_refuses_reserved_names_with_it(event: str) -> None:
    with pytest.raises(ReservedEventError):
        encode_event("/", [event], None)


def test_an_empty_name_is_not_a_reserved_one() -> None:
    with pytest.raises(LocalProtocolError) as info:
        encode_event("/", [""], None)
    assert not isinstance(info.value, ReservedEventError)


@pytest.mark.parametrize("event", sorted(RESERVED_EVENTS))
async def test_both_sides_raise_the_same_error(event: str) -> None:
    io = aiosio.Server()
    sockets: asyncio.Queue[aiosio.Socket] = asyncio.Queue()
    io.on("connection", sockets.put_nowait)
    async with aiosio.testing.serve(io) as served:
        client = await within(served.connect())
        socket = await within(sockets.get())
        raised: list[type[BaseException]] = []
        attempts: list[Any] = [
            lambda: socket.emit(event),
            lambda: socket.timeout(1).emit(event),
            lambda: io.emit(event),
            lambda: io.to("room").emit(event),
            lambda: client.emit(event),
            lambda: client.timeout(1).emit(event),
            lambda: client.volatile.emit(event),
        ]
        for attempt in attempts:
            with pytest.raises(ReservedEventError, match="reserved event name") as info:
                attempt()
            raised.append(type(info.value))
        with pytest.raises(ReservedEventError):
            await socket.emit_with_ack(event, timeout=1)
        with pytest.raises(ReservedEventError):
            await io.timeout(1).emit_with_ack(event)
        with pytest.raises(ReservedEventError):
            await client.emit_with_ack(event, timeout=1)
        assert set(raised) == {ReservedEventError}
        assert socket.connected and client.connected  # refusing sends nothing


async def test_the_server_keeps_error_for_its_own_use() -> None:
    io = aiosio.Server()
    sockets: asyncio.Queue[aiosio.Socket] = asyncio.Queue()
    io.on("connection", sockets.put_nowait)
    async with aiosio.testing.serve(io) as served:
        await within(served.connect())
        socket = await within(sockets.get())
        with pytest.raises(ReservedEventError):
            socket.emit("error")
        with pytest.raises(ValueError):  # what the server raised before
            socket.emit("disconnecting")
