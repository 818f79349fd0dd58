"""The official client with ``socket.io-msgpack-parser`` against our msgpack parser."""

from __future__ import annotations

from typing import Any

import pytest

import aiosio
from tests.interop.sio.sio_helpers import FRONT_DOORS, serving

pytestmark = pytest.mark.interop


@pytest.mark.parametrize("front_door", FRONT_DOORS)
@pytest.mark.parametrize("transports", ["websocket", "polling", "polling,websocket"])
async def test_events_acks_and_binary_both_ways(
    node: Any, front_door: str, transports: str
) -> None:
    io = aiosio.Server(ping_interval=0.5, ping_timeout=1.0, parser="msgpack")
    thanks: list[Any] = []

    @io.on("connection")
    def connection(socket: aiosio.Socket) -> None:
        socket.emit("hello", "hi", b"\x00\xff", callback=lambda *args: thanks.extend(args))

        @socket.on("echo")
        def echo(value: Any, empty: list[bytes]) -> Any:
            assert empty == [b""]
            return value

        @socket.on("report")
        def report() -> None:
            socket.emit("report", *thanks)

    async with serving(io, front_door) as url:
        seen = await node("msgpack_driver.js", url, transports)
    assert seen["hello"] == ["hi", "00ff"]
    assert seen["echo"] == {"n": 1, "b": "0102"}
    assert seen["thanks"] == ["thanks", "0708"]
    assert thanks == ["thanks", b"\x07\x08"]
