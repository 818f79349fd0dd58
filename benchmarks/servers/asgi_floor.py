"""The floor of an ASGI Socket.IO server under uvicorn: the least an ASGI app can do.

Not a Socket.IO server: an ASGI app that speaks just enough Engine.IO v4 and Socket.IO
v5 for the load generator's scenarios (benchmarks/loadgen.js), with no aiosio code and
answers precomputed where they can be. Its figures under the same load, and under the
same uvicorn configuration as ``io.asgi_app()`` (benchmarks/servers/under_uvicorn.py),
bound what any ASGI Socket.IO server can reach under uvicorn on the machine: what is
left between it and the door is ours to take, what is left between it and Node is
uvicorn's and ASGI's.

What it does, and nothing more:

* WebSocket: accept, the open packet (no upgrades), the namespace CONNECT of the main
  namespace (the socket joins the one room), ``echo`` and ``binecho`` acked with their
  arguments, ``broadcast`` re-sent as ``msg`` to every socket, PONGs ignored. It sends
  no PING (a benchmark run is shorter than the ping interval).
* Long-polling: the handshake (upgrade offered, as a server would), POSTs of
  ``\\x1e``-separated packets (CONNECT, ``echo``, PONG) answered ``ok``, GETs answered
  with what is queued or held until something is. A held GET does not watch for its
  client going away (a real server must: it would cost one more task per poll).

No validation, no limits, no session timeouts: the load generator sends what it should.

Run: ``python benchmarks/servers/asgi_floor.py --port P``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_HANDSHAKE = '"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}'
WS_OPEN = '0{"sid":"%s","upgrades":[],' + _HANDSHAKE
POLLING_OPEN = '0{"sid":"%s","upgrades":["websocket"],' + _HANDSHAKE
CONNECTED = '40{"sid":"%s"}'
BROADCAST = '42["broadcast",'
BINECHO_ACK = "46"  # 461-<id>[...] answers 451-<id>["binecho",...]
RS = "\x1e"

ACCEPT: Message = {"type": "websocket.accept"}
TEXT_HEADERS = [(b"content-type", b"text/plain; charset=UTF-8")]
OK_START: Message = {
    "type": "http.response.start",
    "status": 200,
    "headers": [*TEXT_HEADERS, (b"content-length", b"2")],
}
OK_BODY: Message = {"type": "http.response.body", "body": b"ok"}
NOT_FOUND: Message = {"type": "http.response.start", "status": 404, "headers": []}

_ids = itertools.count(1)
# The room every connected WebSocket is in: replaced, never changed in place, so a
# broadcast walks the list it started with while sockets come and go.
room: list[Send] = []


def new_sid() -> str:
    """A session id: unique in the process is all the load generator needs."""
    return f"floor{next(_ids):015d}"


def ack(text: str, kind: str = "3") -> str:
    """The ack of ``4<2|5><head><id>["event",args...]``: ``4<3|6><head><id>[args...]``.

    The id (and a binary packet's ``1-``) runs from after the packet type to the ``[``;
    the arguments from after the event name's comma.
    """
    start = text.index("[")
    return f"4{kind}{text[2:start]}[{text[text.index(',', start) + 1 :]}"


async def broadcast(text: str) -> None:
    """Re-send a ``broadcast`` event's arguments as ``msg`` to every socket in the room."""
    message = {"type": "websocket.send", "text": '42["msg",' + text[len(BROADCAST) :]}
    for send in room:
        try:  # noqa: SIM105 (a try costs nothing here, a context manager per send would)
            await send(message)
        except OSError:  # uvicorn's ClientDisconnected: the socket is on its way out
            pass


async def websocket(receive: Receive, send: Send) -> None:
    """One Socket.IO client over WebSocket, until it goes."""
    global room
    await receive()  # websocket.connect
    await send(ACCEPT)
    await send({"type": "websocket.send", "text": WS_OPEN % new_sid()})
    joined = False
    binary_ack: str | None = None  # the ack whose attachment is the next binary message
    try:
        while True:
            message = await receive()
            text = message.get("text")
            if text is None:
                if message["type"] == "websocket.disconnect":
                    return
                if binary_ack is not None:
                    await send({"type": "websocket.send", "text": binary_ack})
                    await send({"type": "websocket.send", "bytes": message["bytes"]})
                    binary_ack = None
            elif text.startswith(BROADCAST):
                await broadcast(text)
            elif text.startswith("42"):
                await send({"type": "websocket.send", "text": ack(text)})
            elif text.startswith("45"):
                binary_ack = ack(text, "6")
            elif text == "40":
                await send({"type": "websocket.send", "text": CONNECTED % new_sid()})
                room = [*room, send]
                joined = True
    finally:
        if joined:
            room = [s for s in room if s is not send]


class Polling:
    """A long-polling session: the packets queued for the next GET, and a held GET."""

    __slots__ = ("held", "queued")

    def __init__(self) -> None:
        self.queued: list[str] = []
        self.held: asyncio.Future[None] | None = None

    def put(self, packet: str) -> None:
        self.queued.append(packet)
        if self.held is not None:
            if not self.held.done():
                self.held.set_result(None)
            self.held = None

    def take(self) -> bytes:
        body = RS.join(self.queued).encode()
        self.queued.clear()
        return body


sessions: dict[bytes, Polling] = {}


async def answer(send: Send, body: bytes) -> None:
    """A 200 with a text body."""
    length = str(len(body)).encode()
    start = {"type": "http.response.start", "status": 200, "headers": [*TEXT_HEADERS]}
    start["headers"].append((b"content-length", length))
    await send(start)
    await send({"type": "http.response.body", "body": body})


async def polling(scope: Message, receive: Receive, send: Send) -> None:
    """One long-polling request: the handshake, a POST of packets, or a GET."""
    query: bytes = scope["query_string"]
    at = query.find(b"sid=")
    if at < 0:
        sid = new_sid()
        sessions[sid.encode()] = Polling()
        await answer(send, (POLLING_OPEN % sid).encode())
        return
    end = query.find(b"&", at)
    session = sessions[query[at + 4 : end if end >= 0 else len(query)]]
    if scope["method"] == "POST":
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        for packet in b"".join(chunks).decode().split(RS):
            if packet.startswith("42"):
                session.put(ack(packet))
            elif packet == "40":
                session.put(CONNECTED % new_sid())
        await send(OK_START)
        await send(OK_BODY)
        return
    if not session.queued:
        held = session.held = asyncio.get_running_loop().create_future()
        await held
    await answer(send, session.take())


async def app(scope: Message, receive: Receive, send: Send) -> None:
    """The ASGI 3 application: Socket.IO's path, and a 404 for anything else."""
    if scope["type"] == "websocket":
        await websocket(receive, send)
    elif scope["type"] == "http" and scope["path"].startswith("/socket.io/"):
        await polling(scope, receive, send)
    elif scope["type"] == "http":
        await send(NOT_FOUND)
        await send({"type": "http.response.body", "body": b""})


if __name__ == "__main__":
    import under_uvicorn  # a sibling module: this file runs as a script

    under_uvicorn.main(app, __doc__)
