"""compat.AsyncSimpleClient against compat.AsyncServer and python-socketio's server."""

from __future__ import annotations

from typing import Any

import pytest

from aiosio import compat as socketio
from tests.compat.test_client import server


@pytest.mark.parametrize("kind", ["python-socketio", "compat"])
async def test_simple_client(kind: str) -> None:
    async with server(kind) as url:
        async with socketio.AsyncSimpleClient() as client:
            await client.connect(url, transports=["websocket"])
            assert client.connected and client.sid and client.transport == "websocket"
            await client.emit("echo", {"n": 1})
            assert await client.receive(timeout=5) == ["echoed", {"n": 1}]
            assert await client.call("echo", "x", timeout=5) == "x"
            assert await client.receive(timeout=5) == ["echoed", "x"]
            with pytest.raises(socketio.TimeoutError):
                await client.receive(timeout=0.1)
            with pytest.raises(socketio.TimeoutError):
                await client.call("nobody-answers", timeout=0.1)
            with pytest.raises(socketio.ConnectionError):
                await client.connect(url)
        assert not client.connected
        with pytest.raises(socketio.DisconnectedError):
            await client.emit("echo", 1)


async def test_refused_and_namespace() -> None:
    async with server("compat") as url:
        client = socketio.AsyncSimpleClient()
        with pytest.raises(socketio.ConnectionError):
            await client.connect(url, auth={"refuse": True})
        await client.connect(url, namespace="/chat")
        answer: Any = await client.call("echo", 1, timeout=5)
        assert answer == ["chat", 1]
        await client.disconnect()
        with pytest.raises(socketio.DisconnectedError):
            await client.receive(timeout=1)
