"""The official socket.io-client against a typed aiosio server, on both front doors
(the standalone server and uvicorn with the ASGI app), polling and WebSocket: valid and
invalid payloads, the invalid_payload acknowledgement, binary arguments, the error
listeners for an unacknowledged bad payload, and the typed auth middleware."""

from __future__ import annotations

import asyncio
import json
from typing import Any, Literal

import pytest
from pydantic import BaseModel

import aiosio
from aiosio.server.socket import Socket
from aiosio.typed import InvalidPayload
from tests.interop.sio.sio_helpers import serving
from tests.support.waits import within
from tests.typed.support import node_client


class Note(BaseModel):
    text: str
    stars: int = 0


class Auth(BaseModel):
    token: str
    name: str


def typed_server(errors: asyncio.Queue[InvalidPayload]) -> aiosio.Server:
    io = aiosio.Server()

    @io.use
    def authenticate(socket: Socket, auth: Auth) -> None:
        socket.data["name"] = auth.name

    @io.on("connection")
    def connected(socket: Socket) -> None:
        socket.on("error", errors.put_nowait)

    @io.handle("note")
    def note(
        socket: Socket, value: Note, room: Literal["lobby", "games"] = "lobby"
    ) -> dict[str, Any]:
        return {"by": socket.data["name"], "text": value.text, "stars": value.stars, "room": room}

    @io.handle("upload")
    def upload(socket: Socket, name: str, data: bytes) -> tuple[str, int]:
        return name, len(data)

    return io


@pytest.mark.parametrize(("door", "transport"), [("standalone", "websocket"), ("asgi", "polling")])
async def test_the_official_client_gets_answers_and_errors(door: str, transport: str) -> None:
    errors: asyncio.Queue[InvalidPayload] = asyncio.Queue()
    io = typed_server(errors)
    async with serving(io, door) as url:
        node = await node_client("interop_client.js", url, transport)
        out, err = await within(node.communicate(), 60)
        assert node.returncode == 0, err.decode()
        unacked = await within(errors.get())
    report = json.loads(out)
    assert report["refused"] == {
        "message": "invalid_payload",
        "data": {
            "error": "invalid_payload",
            "detail": [
                {
                    "type": "string_type",
                    "loc": [0, "token"],
                    "msg": "Input should be a valid string",
                },
                {"type": "missing", "loc": [0, "name"], "msg": "Field required"},
            ],
        },
    }
    assert report["valid"] == [{"by": "ada", "text": "hi", "stars": 2, "room": "lobby"}]
    [invalid] = report["invalid"]
    assert invalid["error"] == "invalid_payload"
    assert [(e["loc"], e["type"]) for e in invalid["detail"]] == [
        ([0, "stars"], "int_parsing"),
        ([1], "literal_error"),
    ]
    assert "pw" not in json.dumps(invalid) and "attic" not in json.dumps(invalid)
    assert report["binary"] == ["f.bin", 3]
    assert report["notBinary"][0]["detail"][0]["loc"] == [1]
    assert unacked.event == "note" and unacked.errors[0]["loc"] == [0, "text"]
    assert report["afterwards"][0]["text"] == "still here" and report["connected"] is True
