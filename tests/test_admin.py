"""The Admin UI's protocol (``@socket.io/admin-ui`` 0.5), spoken by a python-socketio client."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import bcrypt
import pytest

import socketio
from aiosio import Server, Socket
from aiosio.admin import Admin, BasicAuth, Feature, instrument
from tests.support.recorders import RecordingClient as Recorder
from tests.support.servers import running

AUTH = {"type": "basic", "username": "admin", "password": "secret"}
LOGIN = {"username": "admin", "password": "secret"}
ALL_FEATURES = [feature.value for feature in Feature]


def make_server() -> Server:
    io = Server(serve_client=False)

    @io.on("connection")
    def connection(socket: Socket) -> None:
        def ping(*args: Any) -> None:
            socket.emit("pong", *args)

        socket.on("ping", ping)

    return io


@pytest.fixture
async def served() -> AsyncIterator[tuple[Server, Admin, str]]:
    io = make_server()
    admin = instrument(io, auth=AUTH, ui_path=None)
    async with running(io) as url:
        yield io, admin, url


async def login(url: str, auth: Any = LOGIN) -> Recorder:
    recorder = Recorder("/admin")
    await recorder.connect(url, auth=auth)
    return recorder


async def refused(url: str, auth: Any) -> Any:
    """What the server answered to a refused login."""
    recorder = Recorder("/admin")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await recorder.connect(url, auth=auth)
    return recorder.refusal


async def test_wrong_credentials_are_refused(served: tuple[Server, Admin, str]) -> None:
    _, _, url = served
    for auth in ({"username": "admin", "password": "wrong"}, {"username": "x"}, None):
        assert await refused(url, auth) == {"message": "invalid credentials"}


async def test_login_gets_a_session_the_config_the_stats_and_all_sockets(
    served: tuple[Server, Admin, str],
) -> None:
    _, _, url = served
    user = Recorder()
    await user.connect(url)
    ui = await login(url)
    (session,) = await ui.next("session")
    assert len(session) == 16
    assert await ui.next("config") == ({"supportedFeatures": ALL_FEATURES},)
    (stats,) = await ui.next("server_stats")
    assert stats["clientsCount"] == 2
    assert stats["pollingClientsCount"] == 0
    assert {"name": "/", "socketsCount": 1} in stats["namespaces"]
    assert set(stats) >= {"serverId", "hostname", "pid", "uptime", "aggregatedEvents"}
    (sockets,) = await ui.next("all_sockets")
    by_id = {socket["id"]: socket for socket in sockets}
    mine = by_id[user.sid]
    assert mine["nsp"] == "/"
    assert mine["transport"] == "websocket"
    assert mine["rooms"] == [user.sid]
    assert mine["handshake"]["address"] == "127.0.0.1"
    assert mine["handshake"]["url"].startswith("/socket.io/?")
    assert len(mine["clientId"]) == 12
    assert by_id[ui.sid]["nsp"] == "/admin"

    # The session id logs in again without the password, and gets no new session.
    again = await login(url, {"sessionId": session})
    await again.next("config")
    assert again.pending("session") == []
    for client in (user, ui, again):
        await client.close()


async def test_the_ui_sees_sockets_rooms_and_events(served: tuple[Server, Admin, str]) -> None:
    _, _, url = served
    ui = await login(url)
    await ui.next("all_sockets")
    user = Recorder()
    await user.connect(url)
    sid = user.sid

    serialized, timestamp = await ui.next("socket_connected", lambda s, t: s["id"] == sid)
    assert serialized["nsp"] == "/"
    assert timestamp.endswith("Z")
    await ui.next("room_joined", lambda nsp, room, id_, t: (nsp, room, id_) == ("/", sid, sid))

    await user.emit("ping", "hi", 1)
    assert (await ui.next("event_received"))[:3] == ("/", sid, ["ping", "hi", 1])
    assert (await ui.next("event_sent"))[:3] == ("/", sid, ["pong", "hi", 1])

    # The UI's commands: join, leave, emit, disconnect (each aimed at this socket).
    await ui.emit("join", "/", "room-a", sid)
    await ui.next("room_joined", lambda nsp, room, id_, t: room == "room-a" and id_ == sid)
    await ui.emit("leave", "/", "room-a", sid)
    await ui.next("room_left", lambda nsp, room, id_, t: room == "room-a")
    await ui.emit("emit", "/", sid, "note", "from the admin")
    assert await user.next("note") == ("from the admin",)
    await ui.emit("emit", "/nowhere", None, "note", "lost")  # an unknown namespace: ignored
    await ui.emit("_disconnect", "/", False, sid)
    await ui.next(
        "socket_disconnected",
        lambda nsp, id_, reason, t: id_ == sid and reason == "server namespace disconnect",
    )
    async with asyncio.timeout(5):
        await user.disconnected
    await ui.close()


async def test_commands_without_a_filter_reach_the_whole_namespace(
    served: tuple[Server, Admin, str],
) -> None:
    io, _, url = served
    ui = await login(url)
    users = [Recorder(), Recorder()]
    for user in users:
        await user.connect(url)
    await ui.emit("join", "/", "everyone")
    await ui.next("room_joined", lambda nsp, room, id_, t: room == "everyone")
    await ui.next("room_joined", lambda nsp, room, id_, t: room == "everyone")
    assert io.sockets.adapter.sockets(["everyone"]) == {user.sid for user in users}
    await ui.emit("leave", "/", "everyone")
    await ui.emit("emit", "/", None, "note", 1)
    for user in users:
        assert await user.next("note") == (1,)
    assert io.sockets.adapter.sockets(["everyone"]) == set()
    await ui.emit("_disconnect", "/", True)
    for user in users:
        async with asyncio.timeout(5):
            await user.disconnected
    await ui.close()


async def test_stats_carry_aggregated_events_and_socket_updates(
    served: tuple[Server, Admin, str],
) -> None:
    io, admin, url = served
    ui = await login(url)
    await ui.next("all_sockets")
    user = Recorder()
    await user.connect(url)
    await user.emit("ping")
    await user.next("pong")
    io.sockets.sockets[user.sid].data["mood"] = "happy"
    admin.tick()
    (stats,) = await ui.next("server_stats", lambda s: s["aggregatedEvents"])
    kinds = {event["type"] for event in stats["aggregatedEvents"]}
    assert kinds >= {"rawConnection", "packetsIn", "packetsOut", "bytesIn", "bytesOut"}
    assert all(event["timestamp"] % 1000 == 0 for event in stats["aggregatedEvents"])
    update = await ui.next("socket_updated")
    assert update == ({"id": user.sid, "nsp": "/", "data": {"mood": "happy"}},)
    await user.close()
    admin.sample()
    admin.tick()
    (stats,) = await ui.next("server_stats", lambda s: s["aggregatedEvents"])
    closed = [e for e in stats["aggregatedEvents"] if e["type"] == "rawDisconnection"]
    assert closed
    assert closed[0]["subType"]
    await ui.close()


async def test_production_mode_and_readonly_send_only_the_stats() -> None:
    io = make_server()
    instrument(io, auth=AUTH, mode="production", readonly=True, ui_path=None)
    async with running(io) as url:
        ui = await login(url)
        assert await ui.next("config") == ({"supportedFeatures": ["AGGREGATED_EVENTS"]},)
        user = Recorder()
        await user.connect(url)
        await ui.emit("join", "/", "room-b", user.sid)  # readonly: ignored
        await user.emit("ping")
        await user.next("pong")
        await asyncio.sleep(0.1)
        assert ui.pending("all_sockets") == []
        assert ui.pending("socket_connected") == []
        assert ui.pending("event_received") == []
        assert io.sockets.adapter.sockets(["room-b"]) == set()
        await user.close()
        await ui.close()


async def test_a_bcrypt_hash_is_checked_with_bcrypt() -> None:
    hashed = bcrypt.hashpw(b"secret", bcrypt.gensalt(rounds=4)).decode()
    io = make_server()
    instrument(io, auth={**AUTH, "password": hashed}, ui_path=None)
    async with running(io) as url:
        ui = await login(url)
        await ui.next("config")
        refusal = await refused(url, {"username": "admin", "password": hashed})
        assert refusal == {"message": "invalid credentials"}
        await ui.close()


async def test_without_auth_anyone_gets_in_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    io = make_server()
    with caplog.at_level(logging.WARNING, "aiosio.admin"):
        instrument(io, auth=None, ui_path=None)
    assert "authentication is disabled" in caplog.text
    async with running(io) as url:
        ui = await login(url, None)
        await ui.next("config")
        assert ui.pending("session") == []
        await ui.close()


async def test_the_stats_ticker_runs_once_an_admin_is_connected(
    served: tuple[Server, Admin, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("aiosio.admin.STATS_INTERVAL", 0.05)
    _, _, url = served
    ui = await login(url)
    await ui.next("server_stats")
    await ui.next("server_stats")  # from the ticker
    await ui.close()


@pytest.mark.parametrize(
    "auth",
    [
        {"type": "digest", "username": "a", "password": "b"},
        {"type": "basic", "password": "b"},
        {"type": "basic", "username": "a", "password": ""},
    ],
)
def test_invalid_options_are_refused(auth: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="auth"):
        instrument(Server(), auth=auth)


def test_an_invalid_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="mode"):
        instrument(Server(), auth=None, mode="staging")  # type: ignore[arg-type]


def test_a_bcrypt_hash_needs_bcrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    hashed = "$2b$04$" + "a" * 53
    monkeypatch.setitem(sys.modules, "bcrypt", None)
    with pytest.raises(ValueError, match="install bcrypt"):
        instrument(Server(), auth=BasicAuth("admin", hashed))


# -- serving the UI's files -------------------------------------------------------------------


@pytest.fixture
def ui_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "js").mkdir()
    (tmp_path / "index.html").write_text("<html><head><title>UI</title></head></html>")
    (tmp_path / "js" / "app.js").write_text("console.log('ui')")
    monkeypatch.setenv("AIOSIO_ADMIN_UI_DIST", str(tmp_path))
    return tmp_path


async def _get(url: str) -> tuple[int, dict[str, str], str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, allow_redirects=False) as response,
    ):
        return response.status, dict(response.headers), await response.text()


@pytest.mark.usefixtures("ui_dist")
async def test_the_ui_is_served_and_told_where_the_server_is_without_auth() -> None:
    io = Server(static_files={"/": str(Path(__file__).parent)})
    instrument(io, auth=None, ui_path="/admin-ui/")
    async with running(io) as url:
        status, headers, _ = await _get(url + "/admin-ui")
        assert (status, headers["Location"]) == (301, "/admin-ui/")
        status, headers, body = await _get(url + "/admin-ui/")
        assert status == 200
        assert headers["Content-Type"].startswith("text/html")
        assert "localStorage.setItem" in body
        assert '"namespace": "/admin"' in body
        assert '"path": "/socket.io"' in body
        assert (await _get(url + "/admin-ui/js/app.js"))[2] == "console.log('ui')"


@pytest.mark.usefixtures("ui_dist")
async def test_with_auth_the_ui_asks_for_everything() -> None:
    io = Server()
    instrument(io, auth=AUTH)
    async with running(io) as url:
        status, _, body = await _get(url + "/admin-ui/index.html")
        assert status == 200
        assert "localStorage" not in body


def test_a_missing_ui_is_reported(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("aiosio.admin.find_admin_ui", lambda: None)
    io = Server()
    with caplog.at_level(logging.WARNING, "aiosio.admin"):
        instrument(io, auth=AUTH)
    assert "npm install @socket.io/admin-ui" in caplog.text
    assert "/admin-ui" not in io.router.routes
