"""The chat demo's server, driven by python-socketio clients (the browser test drives the page)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest

from aiosio.demo import DEFAULT_ROOMS, create_server
from tests.support.recorders import RecordingClient as Recorder
from tests.support.servers import running


@pytest.fixture
async def url() -> AsyncIterator[str]:
    async with running(create_server(admin_ui=False, metrics_path=None)) as address:
        yield address


async def person(url: str, name: str | None) -> Recorder:
    recorder = Recorder()
    await recorder.connect(url, auth={"name": name} if name is not None else None)
    return recorder


async def test_everyone_is_welcomed_and_sees_who_is_online(url: str) -> None:
    alice = await person(url, "  alice  ")
    assert (await alice.next("welcome"))[0] == {"id": alice.sid, "name": "alice"}
    guest = await person(url, None)
    (welcome,) = await guest.next("welcome")
    assert welcome["name"] == "guest-" + guest.sid[:4]
    (users,) = await alice.next("users", lambda users: len(users) == 2)
    assert [user["name"] for user in users] == ["alice", welcome["name"]]
    (rooms,) = await alice.next("rooms")
    assert [room["name"] for room in rooms] == sorted(DEFAULT_ROOMS)
    await guest.close()
    (users,) = await alice.next("users", lambda users: len(users) == 1)
    await alice.close()


async def test_rooms_messages_acks_and_typing(url: str) -> None:
    alice, bob = await person(url, "alice"), await person(url, "bob")
    assert await alice.call("join", "e2e") == {"ok": True, "room": "e2e", "members": ["alice"]}
    assert await bob.call("join", "e2e") == {"ok": True, "room": "e2e", "members": ["alice", "bob"]}
    assert (await alice.next("notice"))[0] == {"room": "e2e", "text": "bob joined #e2e"}
    await alice.next("rooms", lambda rooms: {"name": "e2e", "members": 2} in rooms)

    await alice.emit("typing", {"room": "e2e", "typing": True})
    (typing,) = await bob.next("typing")
    assert typing == {"room": "e2e", "user": {"id": alice.sid, "name": "alice"}, "typing": True}

    answer = await alice.call("message", {"room": "e2e", "text": "hello bob"})
    assert answer["ok"] is True
    assert answer["recipients"] == 1
    (message,) = await bob.next("message")
    assert message["text"] == "hello bob"
    assert message["from"] == {"id": alice.sid, "name": "alice"}
    assert message["id"] == answer["id"]

    assert (await bob.call("leave", "e2e"))["members"] == ["alice"]
    assert (await alice.next("notice"))[0]["text"] == "bob left #e2e"
    answer = await alice.call("message", {"room": "e2e", "text": "anyone?"})
    assert answer["recipients"] == 0
    await asyncio.sleep(0.05)
    assert bob.pending("message") == []
    await alice.close()
    await bob.close()


async def test_private_messages(url: str) -> None:
    alice, bob = await person(url, "alice"), await person(url, "bob")
    answer = await bob.call("private", {"to": alice.sid, "text": "psst"})
    assert answer["ok"] is True
    (message,) = await alice.next("private")
    assert message["text"] == "psst"
    assert message["from"] == {"id": bob.sid, "name": "bob"}
    assert message["to"] == {"id": alice.sid, "name": "alice"}
    offline = await bob.call("private", {"to": "nobody", "text": "hi"})
    assert offline == {"ok": False, "error": "this person is offline"}
    assert (await bob.call("private", {"to": bob.sid, "text": "me"}))["ok"] is False
    assert (await bob.call("private", {"to": alice.sid, "text": "  "}))["ok"] is False
    assert (await bob.call("private", "not a dict"))["ok"] is False
    await alice.close()
    await bob.close()


async def test_bad_requests_get_an_error_answer(url: str) -> None:
    alice = await person(url, "alice")
    assert (await alice.call("join", 42))["ok"] is False
    assert (await alice.call("join", alice.sid))["ok"] is False  # a socket's own room
    assert (await alice.call("leave", "never-joined"))["ok"] is False
    assert (await alice.call("message", "text"))["ok"] is False
    not_in = await alice.call("message", {"room": "elsewhere", "text": "hi"})
    assert not_in == {"ok": False, "error": "join the room first"}
    await alice.call("join", "here")
    assert (await alice.call("message", {"room": "here", "text": ""}))["ok"] is False
    await alice.emit("typing", "not a dict")
    await alice.emit("typing", {"room": "elsewhere", "typing": True})
    assert await alice.call("join", "here") == {"ok": True, "room": "here", "members": ["alice"]}
    await alice.close()


async def test_the_full_demo_serves_its_page_the_admin_ui_and_metrics() -> None:
    async with running(create_server()) as address, aiohttp.ClientSession() as session:
        async with session.get(address + "/") as response:
            assert response.status == 200
            assert "aiosio chat" in await response.text()
        async with session.get(address + "/chat.js") as response:
            assert response.status == 200
        async with session.get(address + "/metrics") as response:
            assert "aiosio_connected_sockets" in await response.text()
        async with session.get(address + "/admin-ui", allow_redirects=False) as response:
            assert response.status in (301, 404)  # 404 when the npm package is missing


async def test_a_newcomer_gets_the_last_messages_of_a_default_room(url: str) -> None:
    alice = await person(url, "alice")
    assert (await alice.call("join", "python"))["ok"]
    for n in range(25):
        assert (await alice.call("message", {"room": "python", "text": f"m{n}"}))["ok"]
    bob = await person(url, "bob")
    assert (await bob.call("join", "python"))["members"] == ["alice", "bob"]
    for n in range(5, 25):  # the last 20 (the history's length), in order, then live ones
        (message,) = await bob.next("message")
        assert message["text"] == f"m{n}"
    await alice.call("message", {"room": "python", "text": "live"})
    assert (await bob.next("message"))[0]["text"] == "live"
    await alice.close()
    await bob.close()


async def test_typed_handlers_answer_a_payload_that_does_not_fit(url: str) -> None:
    alice = await person(url, "alice")
    answer = await alice.call("message", {"room": "general"})
    assert answer == {
        "ok": False,
        "error": "invalid payload",
        "detail": [{"type": "missing", "loc": [0, "text"], "msg": "Field required"}],
    }
    await alice.close()
