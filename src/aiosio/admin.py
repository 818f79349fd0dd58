"""The official Socket.IO Admin UI (``@socket.io/admin-ui``) for an aiosio server.

:func:`instrument` does what the package's ``instrument()`` does for a Node server: it
opens the admin namespace (``/admin``), checks the UI's credentials, and speaks the same
events, so the official dashboard shows an aiosio server's sockets, rooms and traffic:

* to the UI: ``session``, ``config``, ``server_stats`` (every 2 seconds, with the
  aggregated per-second counts of connections, disconnections, packets and bytes), and in
  development mode ``all_sockets``, ``socket_connected``, ``socket_updated``,
  ``socket_disconnected``, ``room_joined``, ``room_left``, ``event_received`` and
  ``event_sent``;
* from the UI (unless ``readonly``): ``emit``, ``join``, ``leave`` and ``_disconnect``.

It can also serve the UI's own built files, taken from the npm package (never copied into
ours), at a path of the server:

    io = aiosio.Server()
    aiosio.admin.instrument(io, auth={"type": "basic", "username": "admin", "password": "..."})
    # http://127.0.0.1:3000/admin-ui/ -> server URL http://127.0.0.1:3000, log in

Differences from the reference, on purpose:

* ``password`` may be a bcrypt hash, as the reference requires, when the ``bcrypt``
  package is importable (``pip install aiosio[admin]``); otherwise, and whenever it is not
  a hash, it is compared as a plain password (in constant time).
* ``socket_updated`` is sent when a socket's transport or ``data`` changed, noticed when
  the stats are sent (every 2 s), since a Python dict cannot report its own changes.
* ``socket.data`` is left alone: the client id and transport are read from the connection.
"""

from __future__ import annotations

import asyncio
import enum
import hmac
import json
import logging
import os
import re
import secrets
import socket as stdlib_socket
import time
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from aiosio.admin_sockets import serialize, timestamp, user_data
from aiosio.exceptions import ConnectionRefused
from aiosio.server.http import HTTPRequest, HTTPResponse
from aiosio.server.router import PACKAGED_NPM
from aiosio.server.socket import Socket

if TYPE_CHECKING:
    from aiosio.app import Server
    from aiosio.server.broadcast import BroadcastOperator
    from aiosio.server.namespace import Namespace

__all__ = ["Admin", "BasicAuth", "Feature", "find_admin_ui", "instrument", "serialize"]

logger = logging.getLogger("aiosio.admin")

STATS_INTERVAL = 2.0  # seconds, as the reference
_PROCESS_START = time.monotonic()
_BCRYPT_HASH = re.compile(r"\$2[abxy]\$\d{2}\$[./A-Za-z0-9]{53}")


class Feature(enum.Enum):
    """What the UI may do (``Feature`` in the package's ``typed-events.ts``)."""

    EMIT = "EMIT"
    JOIN = "JOIN"
    LEAVE = "LEAVE"
    DISCONNECT = "DISCONNECT"
    MJOIN = "MJOIN"
    MLEAVE = "MLEAVE"
    MDISCONNECT = "MDISCONNECT"
    AGGREGATED_EVENTS = "AGGREGATED_EVENTS"
    ALL_EVENTS = "ALL_EVENTS"


_WRITE_FEATURES = (
    Feature.EMIT,
    Feature.JOIN,
    Feature.LEAVE,
    Feature.DISCONNECT,
    Feature.MJOIN,
    Feature.MLEAVE,
    Feature.MDISCONNECT,
)


@dataclass(frozen=True, slots=True)
class BasicAuth:
    """The UI's credentials.

    Attributes:
        username: The name the UI's login form must be given.
        password: The password, in plain text or as a bcrypt hash.
    """

    username: str
    password: str

    @classmethod
    def parse(cls, auth: BasicAuth | Mapping[str, Any]) -> BasicAuth:
        """Accept the reference's ``{"type": "basic", "username": ..., "password": ...}``.

        Args:
            auth: That mapping, or a :class:`BasicAuth` (returned as it is).

        Returns:
            The credentials.

        Raises:
            ValueError: For another type or missing fields.
        """
        if isinstance(auth, BasicAuth):
            return auth
        username = auth.get("username")
        password = auth.get("password")
        if auth.get("type") != "basic" or not isinstance(username, str):
            raise ValueError("invalid `auth` option: use {'type': 'basic', 'username', 'password'}")
        if not isinstance(password, str) or not password:
            raise ValueError("invalid `auth` option: the password must be a non-empty string")
        return cls(username, password)

    @property
    def hashed(self) -> bool:
        """Whether ``password`` is a bcrypt hash."""
        return _BCRYPT_HASH.fullmatch(self.password) is not None


def _bcrypt_checker() -> Any:
    try:
        import bcrypt
    except ImportError:
        return None
    return bcrypt


def find_admin_ui() -> Path | None:
    """Where the built UI of the npm package ``@socket.io/admin-ui`` is.

    Looks at ``AIOSIO_ADMIN_UI_DIST``, then ``node_modules`` folders from the working
    directory upwards, then the copy an installed wheel carries (hatch_build.py), then the
    chat demo's (``examples/chat``) in a source checkout.

    Returns:
        The folder holding its ``index.html``, or None when none is found.
    """
    env = os.environ.get("AIOSIO_ADMIN_UI_DIST")
    candidates = [Path(env)] if env else []
    here = Path.cwd()
    relative = Path("node_modules", "@socket.io", "admin-ui", "ui", "dist")
    candidates.extend(folder / relative for folder in (here, *here.parents))
    candidates.append(PACKAGED_NPM / "admin-ui")
    candidates.append(Path(__file__).resolve().parents[2] / "examples" / "chat" / relative)
    for candidate in candidates:
        if (candidate / "index.html").is_file():
            return candidate
    return None


class Admin:
    """The admin namespace of one server; made by :func:`instrument`.

    Args:
        io: The server to show.
        auth: The credentials the UI must give; None accepts any client.
        mode: ``"development"`` reports every socket, room and event; ``"production"`` only
            the stats.
        namespace_name: The admin namespace.
        server_id: Shown in the UI; None takes the host name.
        readonly: Refuse the UI's commands (emit, join, leave, disconnect).

    Raises:
        ValueError: ``mode`` is neither of the two.
    """

    def __init__(
        self,
        io: Server,
        *,
        auth: BasicAuth | None,
        mode: Literal["development", "production"],
        namespace_name: str,
        server_id: str | None,
        readonly: bool,
    ) -> None:
        if mode not in ("development", "production"):
            raise ValueError(f"mode must be 'development' or 'production', not {mode!r}")
        self.io = io
        self.auth = auth
        self.development = mode == "development"
        self.server_id = server_id or stdlib_socket.gethostname()
        features = [] if readonly else list(_WRITE_FEATURES)
        features.append(Feature.AGGREGATED_EVENTS)
        if self.development:
            features.append(Feature.ALL_EVENTS)
        self.features = features
        self._bcrypt = _bcrypt_checker() if auth is not None and auth.hashed else None
        if auth is not None and auth.hashed and self._bcrypt is None:
            raise ValueError("the password is a bcrypt hash: install bcrypt (aiosio[admin])")
        self._sessions: set[str] = set()
        self._new_sessions: weakref.WeakKeyDictionary[Socket, str] = weakref.WeakKeyDictionary()
        self._known: weakref.WeakKeyDictionary[Socket, tuple[str, str]] = (
            weakref.WeakKeyDictionary()
        )
        self._events: list[dict[str, Any]] = []
        self._last = self._totals()
        self._ticking = False
        self.namespace = io.of(namespace_name)
        if auth is None:
            logger.warning("Admin UI: authentication is disabled, please use with caution")
        else:
            self.namespace.use(self._authenticate)
        self.namespace.on("connection", self._on_admin)
        if self.development:
            for namespace in list(io.namespaces.values()):
                self._watch(namespace)
            io.on("new_namespace", self._watch)

    # -- authentication -----------------------------------------------------------------

    async def _authenticate(self, socket: Socket) -> None:
        auth = socket.handshake.auth or {}
        session_id = auth.get("sessionId")
        if isinstance(session_id, str) and session_id in self._sessions:
            return
        username = auth.get("username")
        password = auth.get("password")
        if (
            self.auth is not None
            and isinstance(username, str)
            and isinstance(password, str)
            and hmac.compare_digest(username.encode(), self.auth.username.encode())
            and await self._password_matches(password)
        ):
            session_id = secrets.token_hex(8)
            self._sessions.add(session_id)
            self._new_sessions[socket] = session_id  # sent once the socket is connected
            return
        logger.info("Admin UI: invalid credentials from %s", socket.handshake.address)
        raise ConnectionRefused("invalid credentials")

    async def _password_matches(self, password: str) -> bool:
        assert self.auth is not None
        expected = self.auth.password
        if self._bcrypt is not None:
            # bcrypt is slow on purpose: keep it off the event loop.
            checkpw = self._bcrypt.checkpw
            return bool(await asyncio.to_thread(checkpw, password.encode(), expected.encode()))
        return hmac.compare_digest(password.encode(), expected.encode())

    # -- the UI's sockets ---------------------------------------------------------------

    def _on_admin(self, socket: Socket) -> None:
        session_id = self._new_sessions.pop(socket, None)
        if session_id is not None:
            socket.emit("session", session_id)
        features = set(self.features)
        if Feature.EMIT in features:
            socket.on("emit", self._emit)
        if Feature.JOIN in features:
            socket.on("join", self._join)
        if Feature.LEAVE in features:
            socket.on("leave", self._leave)
        if Feature.DISCONNECT in features:
            socket.on("_disconnect", self._disconnect)
        socket.emit("config", {"supportedFeatures": [feature.value for feature in self.features]})
        socket.emit("server_stats", self.server_stats([]))
        self._start_ticker()
        if self.development:
            self.io.spawn(self._send_all_sockets(socket))

    async def _send_all_sockets(self, socket: Socket) -> None:
        sockets = await self.all_sockets()
        if socket.connected:
            socket.emit("all_sockets", sockets)

    def _target(self, name: Any, filter_: Any) -> Namespace | BroadcastOperator | None:
        namespace = self.io.namespaces.get(name) if isinstance(name, str) else None
        if namespace is None:
            return None
        return namespace.in_(filter_) if isinstance(filter_, str) and filter_ else namespace

    def _emit(self, nsp: str, filter_: str | None, event: str, *args: Any) -> None:
        target = self._target(nsp, filter_)
        if target is not None and isinstance(event, str):
            target.emit(event, *args)

    def _join(self, nsp: str, room: str, filter_: str | None = None) -> None:
        target = self._target(nsp, filter_)
        if target is not None and isinstance(room, str):
            target.sockets_join(room)

    def _leave(self, nsp: str, room: str, filter_: str | None = None) -> None:
        target = self._target(nsp, filter_)
        if target is not None and isinstance(room, str):
            target.sockets_leave(room)

    def _disconnect(self, nsp: str, close: bool, filter_: str | None = None) -> None:
        target = self._target(nsp, filter_)
        if target is not None:
            target.disconnect_sockets(bool(close))

    async def all_sockets(self) -> list[dict[str, Any]]:
        """Every socket of every namespace (the cluster's, with a cluster adapter).

        Returns:
            Each socket serialized as the UI shows it.
        """
        result = []
        for namespace in list(self.io.namespaces.values()):
            for socket in await namespace.fetch_sockets():
                result.append(serialize(socket, namespace.name))
        return result

    # -- what the UI is told ------------------------------------------------------------

    def _send(self, event: str, *args: Any) -> None:
        # Nothing is encoded while no UI is connected.
        if self.namespace.sockets:
            self.namespace.emit(event, *args)

    def _watch(self, namespace: Namespace) -> None:
        """Report the sockets and rooms of ``namespace`` (development mode)."""
        name = namespace.name

        def on_connection(socket: Socket) -> None:
            self._known[socket] = (socket.conn.session.transport, _fingerprint(socket.data))
            self._send("socket_connected", serialize(socket, name), timestamp())
            if namespace is not self.namespace:
                sid = socket.id

                def received(event: str, *args: Any) -> None:
                    self._send("event_received", name, sid, [event, *args], timestamp())

                def sent(event: str, *args: Any) -> None:
                    self._send("event_sent", name, sid, [event, *args], timestamp())

                socket.on_any(received)
                socket.on_any_outgoing(sent)

            def disconnected(reason: str) -> None:
                self._send("socket_disconnected", name, socket.id, reason, timestamp())

            socket.on("disconnect", disconnected)

        def joined(room: str, sid: str) -> None:
            self._send("room_joined", name, room, sid, timestamp())

        def left(room: str, sid: str) -> None:
            # After the disconnect has been reported, as the reference (process.nextTick).
            _call_soon(self._send, "room_left", name, room, sid, timestamp())

        namespace.on("connection", on_connection)
        namespace.on("join-room", joined)
        namespace.on("leave-room", left)

    def server_stats(self, events: list[dict[str, Any]]) -> dict[str, Any]:
        """The ``server_stats`` payload.

        Args:
            events: The aggregated event counts since the last report.

        Returns:
            The server's id, host name, process id, uptime, client counts (polling ones
            apart), its namespaces' socket counts and the events, ready for JSON.
        """
        engine = self.io.engine
        polling = sum(1 for s in engine.sessions.values() if s.transport == "polling")
        return {
            "serverId": self.server_id,
            "hostname": stdlib_socket.gethostname(),
            "pid": os.getpid(),
            "uptime": round(time.monotonic() - _PROCESS_START, 3),
            "clientsCount": len(engine.sessions),
            "pollingClientsCount": polling,
            "aggregatedEvents": events,
            "namespaces": [
                {"name": namespace.name, "socketsCount": len(namespace.sockets)}
                for namespace in self.io.namespaces.values()
            ],
        }

    def _totals(self) -> dict[tuple[str, str | None], int]:
        stats = self.io.engine.stats
        totals: dict[tuple[str, str | None], int] = {
            ("rawConnection", None): stats.sessions_opened,
            ("packetsIn", None): stats.packets_in,
            ("packetsOut", None): stats.packets_out,
            ("bytesIn", None): stats.bytes_in,
            ("bytesOut", None): stats.bytes_out,
        }
        for reason, count in stats.sessions_closed.items():
            totals["rawDisconnection", reason] = count
        return totals

    def sample(self) -> None:
        """Turn what the counters gained since the last sample into aggregated events."""
        totals = self._totals()
        timestamp = int(time.time()) * 1000
        for (kind, sub_type), value in totals.items():
            gained = value - self._last.get((kind, sub_type), 0)
            if gained > 0:
                event: dict[str, Any] = {"timestamp": timestamp, "type": kind, "count": gained}
                if sub_type is not None:
                    event["subType"] = sub_type
                self._events.append(event)
        self._last = totals

    def tick(self) -> None:
        """Send ``server_stats`` and the sockets that changed; called every 2 seconds."""
        self.sample()
        events, self._events = self._events, []
        if not self.namespace.sockets:
            return
        self._send("server_stats", self.server_stats(events))
        if self.development:
            self._report_updates()

    def _report_updates(self) -> None:
        for socket, (transport, fingerprint) in list(self._known.items()):
            if not socket.connected:
                continue
            now_transport = socket.conn.session.transport
            now_fingerprint = _fingerprint(socket.data)
            if now_transport == transport and now_fingerprint == fingerprint:
                continue
            self._known[socket] = (now_transport, now_fingerprint)
            update: dict[str, Any] = {"id": socket.id, "nsp": socket.nsp.name}
            if now_transport != transport:
                update["transport"] = now_transport
            if now_fingerprint != fingerprint:
                update["data"] = user_data(socket.data)
            self._send("socket_updated", update)

    def _start_ticker(self) -> None:
        if not self._ticking:
            self._ticking = True
            self.io.spawn(self._ticker())

    async def _ticker(self) -> None:
        try:
            while True:
                await asyncio.sleep(STATS_INTERVAL / 2)
                self.sample()
                await asyncio.sleep(STATS_INTERVAL / 2)
                try:
                    self.tick()
                except Exception:
                    logger.exception("Admin UI: cannot send the stats")
        finally:
            self._ticking = False


def _call_soon(callback: Any, *args: Any) -> None:
    asyncio.get_running_loop().call_soon(callback, *args)


def _fingerprint(data: Any) -> str:
    try:
        return json.dumps(data, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        return repr(data)


def _serve_ui(io: Server, path: str, dist: Path, namespace_name: str, seed: bool) -> None:
    router = io.router
    index = (dist / "index.html").read_text(encoding="utf-8")
    if seed:
        # Without credentials to type, the UI may connect to this very server at once.
        settings = {
            "server_url": None,
            "namespace": namespace_name,
            "path": router.path.rstrip("/"),
        }
        script = (
            "<script>(function(){try{var s="
            + json.dumps(settings)
            + ";if(!localStorage.getItem('server_url')){s.server_url=location.origin;"
            "for(var k in s){localStorage.setItem(k,s[k]);}}}catch(e){}})();</script>"
        )
        index = index.replace("<head>", "<head>" + script, 1)
    body = index.encode()

    def redirect(request: HTTPRequest) -> HTTPResponse:
        return HTTPResponse(301, b"", [("Location", path + "/")])

    def page(request: HTTPRequest) -> HTTPResponse:
        headers = [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-cache")]
        return HTTPResponse(200, b"" if request.method == "HEAD" else body, headers)

    router.routes[path] = redirect
    router.routes[path + "/"] = page
    router.routes[path + "/index.html"] = page
    # Before any broader prefix (such as "/"), so the UI's files win.
    router.static_files = {path + "/": dist, **router.static_files}


def instrument(
    io: Server,
    *,
    auth: BasicAuth | Mapping[str, Any] | None,
    mode: Literal["development", "production"] = "development",
    namespace_name: str = "/admin",
    server_id: str | None = None,
    readonly: bool = False,
    ui_path: str | None = "/admin-ui",
) -> Admin:
    """Open ``io`` to the official Admin UI.

    Args:
        io: The server.
        auth: ``{"type": "basic", "username": ..., "password": ...}`` (the password plain
            or, with ``bcrypt`` installed, a bcrypt hash), or None for no authentication
            (a warning is logged). Required, as in the reference.
        mode: ``"production"`` sends only the stats, not every socket, room and event.
        namespace_name: The admin namespace.
        server_id: Shown in the UI; the host name by default.
        readonly: Refuse the UI's commands (emit, join, leave, disconnect).
        ui_path: Where to serve the UI's built files from the npm package (when it is
            installed; a warning is logged otherwise), or None not to serve them.

    Returns:
        The admin namespace's handler, already listening (keep it to read its state;
        nothing needs to be called on it).

    Raises:
        ValueError: For an invalid ``auth`` or ``mode``, or a bcrypt hash without bcrypt.
    """
    checked = None if auth is None else BasicAuth.parse(auth)
    admin = Admin(
        io,
        auth=checked,
        mode=mode,
        namespace_name=namespace_name,
        server_id=server_id,
        readonly=readonly,
    )
    if ui_path is not None:
        dist = find_admin_ui()
        if dist is None:
            logger.warning(
                "Admin UI: the UI files are not installed (npm install @socket.io/admin-ui)"
            )
        else:
            path = "/" + ui_path.strip("/")
            _serve_ui(io, path, dist, admin.namespace.name, seed=checked is None)
            logger.debug("Admin UI: serving %s at %s/", dist, path)
    return admin
