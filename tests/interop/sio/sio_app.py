"""The aiosio server that the interop tests drive, and what it records.

Every namespace of it offers the same events, which the driver's scenarios call (each
answers with an acknowledgement unless said otherwise):

* ``echo(*args)`` returns its arguments; ``echo-async`` does so from a coroutine and
  ``echo-explicit`` through the ``ack`` callable, on the next loop iteration.
* ``multi()`` answers with three arguments (one binary), ``none()`` with none.
* ``never(*args)`` takes an ``ack`` and never calls it; ``raise()`` fails.
* ``info()``: the socket's id, namespace, handshake, rooms and data.
* ``join(rooms)`` / ``leave(room)``: answer with the socket's rooms.
* ``emit-back(event, *args)``: the server emits ``event`` to this client first.
* ``ask(spec)``: ``await socket.timeout(t).emit_with_ack(...)``; answers with
  ``{"answer": ...}`` or ``{"error": "AckTimeout"}``; records ``ask-failed`` when the
  socket disconnects first.
* ``ask-callback(event, *args)``: ``socket.emit(..., callback=...)``; the callback emits
  ``answered`` with the client's answer.
* ``ask-room(spec)``: a broadcast with acknowledgements to a room.
* ``broadcast(spec)`` (no ack): a broadcast described by ``spec`` (``via``: ``socket`` for
  ``socket.broadcast``, ``namespace`` for ``io.of(name)``, ``parent`` for the dynamic
  parent; ``to``, ``except``, ``volatile``, ``event``, ``args``), then ``fence`` to the
  whole namespace (to every child with ``parent``).
* ``volatile(n)``: ``n`` volatile emits of ``v``, then a plain ``after-volatile``.
* ``disconnect-me(close)`` (no ack): ``socket.disconnect(close)``.
* ``stop-any()``: ``socket.off_any()``.

The connection handler emits ``welcome`` (socket id, namespace) at once; every socket has
a packet middleware that refuses the event ``forbidden``. The :class:`Recorder` keeps what
each socket saw, by the ``tag`` in its auth payload.
"""

from __future__ import annotations

import asyncio
import re
from collections import defaultdict
from typing import Any

import aiosio
from aiosio import AckTimeout, ConnectionRefused, Disconnected

DYNAMIC = re.compile(r"^/t-[\w-]+$")


class Recorder:
    """What the server saw, by tag: ``(kind, value)`` pairs in order, and waiters."""

    def __init__(self) -> None:
        self.records: dict[Any, list[tuple[str, Any]]] = defaultdict(list)
        self._waiters: list[tuple[Any, str, asyncio.Future[Any]]] = []

    def add(self, tag: Any, kind: str, value: Any = None) -> None:
        self.records[tag].append((kind, value))
        for waiter in list(self._waiters):
            if waiter[0] == tag and waiter[1] == kind:
                self._waiters.remove(waiter)
                if not waiter[2].done():
                    waiter[2].set_result(value)

    def values(self, tag: Any, kind: str) -> list[Any]:
        return [value for seen, value in self.records.get(tag, ()) if seen == kind]

    def kinds(self, tag: Any) -> list[str]:
        return [kind for kind, _ in self.records.get(tag, ())]

    async def wait(self, tag: Any, kind: str, timeout: float = 5.0) -> Any:
        """The first value of ``kind`` recorded for ``tag``, waiting for it if need be."""
        for seen, value in self.records.get(tag, ()):
            if seen == kind:
                return value
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        waiter = (tag, kind, future)
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                return await future
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)


def build_server(**options: Any) -> tuple[aiosio.Server, Recorder]:
    """A server with the events above on ``/``, ``/custom``, ``/guarded`` (middlewares),
    dynamic ``/t-*`` namespaces (parent middleware), and function-matched ``/fn-*``."""
    settings: dict[str, Any] = {"ping_interval": 0.3, "ping_timeout": 0.5}
    settings.update(options)
    io = aiosio.Server(**settings)
    recorder = Recorder()

    def on_connection(socket: aiosio.Socket) -> None:
        setup_socket(socket, recorder)

    io.on("connection", on_connection)
    io.of("/custom").on("connect", on_connection)

    guarded = io.of("/guarded")
    guarded.use(check_token)
    guarded.use(mark_checked)
    guarded.on("connection", on_connection)

    tests = io.of(DYNAMIC)
    tests.use(refuse_on_demand)
    tests.on("connection", on_connection)

    matched = io.of(lambda name, auth: name.startswith("/fn-") and bool(auth.get("allow")))
    matched.on("connection", on_connection)
    return io, recorder


def check_token(socket: aiosio.Socket) -> None:
    token = socket.handshake.auth.get("token")
    if token == "crash":
        raise RuntimeError("middleware crashed")
    if token != "ok":
        raise ConnectionRefused("not authorized", {"reason": "bad token", "got": token})
    socket.data["user"] = "alice"


async def mark_checked(socket: aiosio.Socket) -> None:
    await asyncio.sleep(0)
    socket.data["checked"] = True


def refuse_on_demand(socket: aiosio.Socket) -> None:
    reason = socket.handshake.auth.get("refuse")
    if reason:
        raise ConnectionRefused(reason)


def refuse_forbidden(packet: list[Any]) -> None:
    if packet[0] == "forbidden":
        raise ValueError("forbidden event")


def setup_socket(socket: aiosio.Socket, recorder: Recorder) -> None:
    """The handlers of every socket (see the module docstring)."""
    auth = socket.handshake.auth
    tag = auth.get("tag") if isinstance(auth, dict) else None
    record = recorder.add
    record(tag, "connect", socket.id)
    socket.use(refuse_forbidden)
    socket.on_any(lambda event, *args: record(tag, "any", [event, *args]))
    socket.on_any_outgoing(lambda event, *args: record(tag, "outgoing", [event, *args]))
    socket.emit("welcome", socket.id, socket.namespace)
    socket.on("error", lambda error: record(tag, "error", str(error)))
    socket.on(
        "disconnecting",
        lambda reason: record(tag, "disconnecting", (reason, sorted(socket.rooms))),
    )
    socket.on("disconnect", lambda reason: record(tag, "disconnect", reason))

    socket.on("echo", lambda *args: args)

    @socket.on("echo-async")
    async def echo_async(*args: Any) -> tuple[Any, ...]:
        await asyncio.sleep(0)
        return args

    @socket.on("echo-explicit")
    def echo_explicit(*args: Any, ack: Any) -> None:
        asyncio.get_running_loop().call_soon(ack, *args)

    socket.on("multi", lambda: ("a", 1, b"\x01\x02"))
    socket.on("none", lambda: None)

    @socket.on("never")
    def never(*args: Any, ack: Any) -> None:
        record(tag, "never", list(args))

    @socket.on("raise")
    def fail() -> None:
        raise RuntimeError("handler failed on purpose")

    @socket.on("info")
    def info() -> dict[str, Any]:
        handshake = socket.handshake
        return {
            "id": socket.id,
            "nsp": socket.namespace,
            "auth": handshake.auth,
            "query": handshake.query,
            "header": handshake.headers.get("x-test"),
            "url": handshake.url,
            "address": handshake.address,
            "issued": handshake.issued,
            "rooms": sorted(socket.rooms),
            "data": socket.data,
            "connected": socket.connected,
        }

    @socket.on("join")
    def join(rooms: Any) -> list[str]:
        socket.join(rooms)
        return sorted(socket.rooms)

    @socket.on("leave")
    def leave(room: str) -> list[str]:
        socket.leave(room)
        return sorted(socket.rooms)

    @socket.on("emit-back")
    def emit_back(event: str, *args: Any) -> None:
        socket.emit(event, *args)

    @socket.on("ask")
    async def ask(spec: dict[str, Any]) -> dict[str, Any]:
        timeout = spec.get("timeout")
        emitter = socket if timeout is None else socket.timeout(timeout)
        try:
            answer = await emitter.emit_with_ack(spec["event"], *spec.get("args", []))
        except AckTimeout as exc:
            return {"error": type(exc).__name__}
        except Disconnected as exc:  # no answer can go out now: record it
            record(tag, "ask-failed", type(exc).__name__)
            return None
        return {"answer": answer}

    @socket.on("ask-callback")
    def ask_callback(event: str, *args: Any) -> None:
        socket.emit(event, *args, callback=lambda *answer: socket.emit("answered", *answer))

    @socket.on("ask-room")
    async def ask_room(spec: dict[str, Any]) -> Any:
        operator = socket.nsp.to(spec["room"]).timeout(spec["timeout"])
        args = spec.get("args", [])
        if spec.get("per_socket"):
            results = await operator.emit_with_ack(spec["event"], *args, per_socket=True)
            return {
                sid: type(result).__name__ if isinstance(result, Exception) else result
                for sid, result in results.items()
            }
        try:
            return {"answers": await operator.emit_with_ack(spec["event"], *args)}
        except AckTimeout as exc:
            return {"error": type(exc).__name__}

    @socket.on("broadcast")
    def broadcast(spec: dict[str, Any]) -> None:
        via = spec.get("via", "socket")
        if via == "socket":
            operator = socket.broadcast
        elif via == "parent":
            assert socket.nsp.parent is not None
            operator = socket.nsp.parent.to()
        else:
            operator = socket.nsp.to()
        if spec.get("to"):
            operator = operator.to(*spec["to"])
        if spec.get("except"):
            operator = operator.except_(*spec["except"])
        if spec.get("volatile"):
            operator = operator.volatile
        operator.emit(spec["event"], *spec.get("args", []))
        (socket.nsp.parent if via == "parent" else socket.nsp).emit("fence")

    @socket.on("volatile")
    def volatile(count: int) -> str:
        for index in range(count):
            socket.volatile.emit("v", index)
        socket.emit("after-volatile")
        return "sent"

    @socket.on("disconnect-me")
    def disconnect_me(close: bool = False) -> None:
        socket.disconnect(close)

    @socket.on("stop-any")
    def stop_any() -> None:
        socket.off_any()
