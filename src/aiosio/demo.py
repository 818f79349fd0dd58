"""The chat demo: ``python -m aiosio demo`` (or ``make demo``), then http://127.0.0.1:3000.

One page of our own (``demo_static/``: HTML, CSS and a small script) talks to this server
through the official ``socket.io-client``, which the server itself serves at
``/socket.io/socket.io.js`` from the npm package. The chat has rooms to join and leave,
the list of who is online (from presence: ``Server(presence=...)``), the last 20 messages of
a default room replayed to whoever joins it (room history: ``socket.join(room, rewind=20)``),
typing indicators, private messages, and acknowledgements shown as "delivered". The Admin
UI watches it at ``/admin-ui/`` and Prometheus at ``/metrics``.

Events, client to server (every one answers through its acknowledgement):

* ``join(room)``, ``leave(room)`` -> ``{"ok", "room", "members"}``
* ``message({"room", "text"})`` -> ``{"ok", "id", "time", "recipients"}``
* ``private({"to", "text"})`` -> ``{"ok", "id", "time"}``, the recipient's socket id in ``to``
* ``typing({"room", "typing"})`` (no answer)

Server to client: ``welcome``, ``rooms``, ``users``, ``message``, ``private``, ``notice``,
``typing``.

The handlers are typed (docs/typed-events.md): their payloads are validated before they
run, and a payload that does not fit is answered ``{"ok": false, "error": "invalid
payload", "detail": [...]}`` by the server's ``on_invalid`` hook, the shape every answer
of the chat has.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aiosio import admin, metrics
from aiosio.app import Server
from aiosio.server.namespace import Namespace
from aiosio.server.socket import Socket
from aiosio.typed import InvalidPayload

__all__ = ["DEFAULT_ROOMS", "STATIC", "Chat", "create_server"]

logger = logging.getLogger("aiosio.demo")

STATIC = Path(__file__).with_name("demo_static")
DEFAULT_ROOMS = ("general", "random", "python")
MAX_NAME = 24
MAX_ROOM = 32
MAX_TEXT = 2000
REWIND = 20  # messages of a default room replayed to a newcomer
ONLINE = "aiosio:online"  # the room every socket is in: its presence is who is online
DEMO_CREDENTIALS = {"type": "basic", "username": "admin", "password": "admin"}


@dataclasses.dataclass
class Post:
    """A message to a room."""

    room: str
    text: str


@dataclasses.dataclass
class Whisper:
    """A private message; ``to`` is the recipient's socket id."""

    to: str
    text: str


@dataclasses.dataclass
class Typing:
    """Typing started or stopped in a room."""

    room: str
    typing: bool = False


def _invalid(socket: Socket, invalid: InvalidPayload) -> dict[str, Any]:
    """A payload that does not fit its handler, answered in the chat's shape."""
    return {"ok": False, "error": "invalid payload", "detail": invalid.errors}


def _clean(value: Any, limit: int) -> str | None:
    """A trimmed string of 1 to ``limit`` characters, or None."""
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    return value[:limit] if value else None


class Chat:
    """The chat's handlers on the main namespace."""

    def __init__(self, io: Server) -> None:
        self.io = io
        self.namespace: Namespace = io.sockets
        self._ids = itertools.count(1)
        io.on("connection", self.on_connection)
        self.namespace.on("presence", self._presence_changed)
        for room in DEFAULT_ROOMS:
            self.namespace.history(room, max_len=REWIND)

    # -- what everyone sees ---------------------------------------------------------------

    def name_of(self, sid: str) -> str:
        socket = self.namespace.sockets.get(sid)
        return str(socket.data.get("name", "?")) if socket is not None else "?"

    async def users(self) -> list[dict[str, str]]:
        """Who is online, by name: the presence of the room every socket is in."""
        people = [
            {"id": member["user"], "name": str((member["info"] or {}).get("name", "?"))}
            for member in await self.namespace.in_(ONLINE).presence()
        ]
        return sorted(people, key=lambda user: (user["name"].lower(), user["id"]))

    def rooms(self) -> list[dict[str, Any]]:
        """The default rooms and every room with members, with their member counts."""
        adapter = self.namespace.adapter
        names = set(DEFAULT_ROOMS)
        members: dict[str, set[str]] = getattr(adapter, "rooms", {})
        sockets = self.namespace.sockets
        names.update(room for room in members if room not in sockets and room != ONLINE)
        count = self.namespace.adapter.sockets  # connected sockets only
        return [{"name": name, "members": len(count([name]))} for name in sorted(names)]

    async def members(self, room: str) -> list[str]:
        """The names of a room's members, from its presence."""
        found = await self.namespace.in_(room).presence()
        return sorted(str((member["info"] or {}).get("name", "?")) for member in found)

    async def _presence_changed(self, room: str, joined: Any, left: Any) -> None:
        """A presence diff (at most one per room every interval): send the lists again."""
        self.io.emit("users", await self.users())
        self.io.emit("rooms", self.rooms())

    # -- one client -------------------------------------------------------------------------

    def on_connection(self, socket: Socket) -> None:
        name = _clean(socket.handshake.auth.get("name"), MAX_NAME) or f"guest-{socket.id[:4]}"
        socket.data["name"] = name
        socket.presence_info = {"name": name}
        logger.info("%s connected (%s)", name, socket.id)
        socket.emit("welcome", {"id": socket.id, "name": name})
        socket.join(ONLINE)

        async def join(room: str) -> dict[str, Any]:
            return await self.join(socket, room)

        async def leave(room: str) -> dict[str, Any]:
            return await self.leave(socket, room)

        def message(payload: Post) -> dict[str, Any]:
            return self.message(socket, dataclasses.asdict(payload))

        def private(payload: Whisper) -> dict[str, Any]:
            return self.private(socket, dataclasses.asdict(payload))

        def typing(payload: Typing) -> None:
            self.typing(socket, dataclasses.asdict(payload))

        def disconnect(reason: str) -> None:
            logger.info("%s disconnected (%s)", name, reason)

        socket.on("join", join)
        socket.on("leave", leave)
        socket.on("message", message)
        socket.on("private", private)
        socket.on("typing", typing)
        socket.on("disconnect", disconnect)

    def _who(self, socket: Socket) -> dict[str, str]:
        return {"id": socket.id, "name": str(socket.data["name"])}

    async def join(self, socket: Socket, room: Any) -> dict[str, Any]:
        name = _clean(room, MAX_ROOM)
        if name is None or name in self.namespace.sockets or name == ONLINE:
            return {"ok": False, "error": "invalid room name"}
        if name not in socket.rooms:
            if name in DEFAULT_ROOMS:
                socket.join(name, rewind=REWIND)  # the last messages, then the live ones
            else:
                socket.join(name)
            text = f"{socket.data['name']} joined #{name}"
            socket.to(name).volatile.emit("notice", {"room": name, "text": text})
        return {"ok": True, "room": name, "members": await self.members(name)}

    async def leave(self, socket: Socket, room: Any) -> dict[str, Any]:
        name = _clean(room, MAX_ROOM)
        if name is None or name not in socket.rooms or name in (socket.id, ONLINE):
            return {"ok": False, "error": "not in this room"}
        socket.leave(name)
        text = f"{socket.data['name']} left #{name}"
        self.io.to(name).volatile.emit("notice", {"room": name, "text": text})
        return {"ok": True, "room": name, "members": await self.members(name)}

    def message(self, socket: Socket, payload: Any) -> dict[str, Any]:
        if not isinstance(payload, dict):
            return {"ok": False, "error": "bad message"}
        room = _clean(payload.get("room"), MAX_ROOM)
        text = payload.get("text")
        if room is None or room not in socket.rooms or room == socket.id:
            return {"ok": False, "error": "join the room first"}
        if not isinstance(text, str) or not text.strip():
            return {"ok": False, "error": "empty message"}
        sent = {
            "id": next(self._ids),
            "room": room,
            "from": self._who(socket),
            "text": text[:MAX_TEXT],
            "time": int(time.time() * 1000),
        }
        recipients = len(self.namespace.adapter.sockets([room]) - {socket.id})
        socket.to(room).emit("message", sent)
        return {"ok": True, "id": sent["id"], "time": sent["time"], "recipients": recipients}

    def private(self, socket: Socket, payload: Any) -> dict[str, Any]:
        if not isinstance(payload, dict):
            return {"ok": False, "error": "bad message"}
        to = payload.get("to")
        text = payload.get("text")
        target = self.namespace.sockets.get(to) if isinstance(to, str) else None
        if target is None or target is socket:
            return {"ok": False, "error": "this person is offline"}
        if not isinstance(text, str) or not text.strip():
            return {"ok": False, "error": "empty message"}
        sent = {
            "id": next(self._ids),
            "from": self._who(socket),
            "to": self._who(target),
            "text": text[:MAX_TEXT],
            "time": int(time.time() * 1000),
        }
        target.emit("private", sent)
        return {"ok": True, "id": sent["id"], "time": sent["time"]}

    def typing(self, socket: Socket, payload: Any) -> None:
        if not isinstance(payload, dict):
            return
        room = _clean(payload.get("room"), MAX_ROOM)
        if room is None or room not in socket.rooms or room == socket.id:
            return
        update = {"room": room, "user": self._who(socket), "typing": bool(payload.get("typing"))}
        socket.to(room).volatile.emit("typing", update)


def create_server(
    *,
    admin_auth: Mapping[str, Any] | None = DEMO_CREDENTIALS,
    admin_ui: bool = True,
    metrics_path: str | None = "/metrics",
) -> Server:
    """The demo server: the chat page, the chat, the Admin UI and the metrics page."""
    io = Server(static_files={"/": str(STATIC)}, presence={"interval": 0.2})
    io.on_invalid(_invalid)
    Chat(io)
    if admin_ui:
        admin.instrument(io, auth=admin_auth, ui_path="/admin-ui")
    if metrics_path:
        metrics.enable(io, metrics_path)
    return io
