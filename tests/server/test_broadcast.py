"""aiosio.server.broadcast: the immutable BroadcastOperator, who it reaches, its flags, and
the acknowledgements it gathers from several clients (in memory, no network)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

import aiosio
import aiosio.testing
from aiosio.exceptions import AckTimeout
from tests.support.servers import running
from tests.support.waits import within

NAMES = ("alice", "bob", "carol")


class Room:
    """Three clients (alice, bob, carol), each in a room of its name; alice and bob also
    in "ab", bob and carol in "bc". ``inbox[name]`` gets every event as a tuple."""

    def __init__(self, io: aiosio.Server) -> None:
        self.io = io
        self.clients: dict[str, aiosio.Client] = {}
        self.sockets: dict[str, aiosio.Socket] = {}
        self.inbox = {name: asyncio.Queue[tuple[Any, ...]]() for name in NAMES}

    async def received(self, name: str) -> list[tuple[Any, ...]]:
        """What ``name`` got before the ``end`` event (send it to everyone first)."""
        seen = []
        while (item := await within(self.inbox[name].get())) != ("end",):
            seen.append(item)
        return seen

    async def who_got(self, send: Any) -> dict[str, list[tuple[Any, ...]]]:
        """Run ``send()``, then report what each client received."""
        send()
        self.io.emit("end")
        return {name: await self.received(name) for name in NAMES}


@asynccontextmanager
async def three_clients(io: aiosio.Server | None = None) -> AsyncIterator[Room]:
    io = io or aiosio.Server()
    room = Room(io)

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        name = socket.handshake.auth["name"]
        room.sockets[name] = socket
        socket.join(name)
        socket.join([pair for pair in ("ab", "bc") if name[0] in pair])

    async with aiosio.testing.serve(io) as served:
        for name in NAMES:
            client = await within(served.connect(auth={"name": name}))
            client.on_any(lambda *item, name=name: room.inbox[name].put_nowait(item))
            room.clients[name] = client
        yield room


# -- immutability -----------------------------------------------------------------------------


def test_every_method_returns_a_new_operator_and_leaves_this_one_alone() -> None:
    io = aiosio.Server()
    base = io.to("a")
    assert isinstance(base, aiosio.BroadcastOperator)
    more = base.to("b")
    excluded = base.except_("x")
    timed = base.timeout(5)
    flagged = base.volatile.local.compress(False)
    assert base.options.rooms == {"a"} and base.options.except_ == frozenset()
    assert more.options.rooms == {"a", "b"}
    assert excluded.options.rooms == {"a"} and excluded.options.except_ == {"x"}
    assert timed.options.flags.timeout == 5
    assert (flagged.options.flags.volatile, flagged.options.flags.local) == (True, True)
    assert flagged.options.flags.compress is False
    # Nothing leaked back into the base.
    flags = base.options.flags
    assert (flags.volatile, flags.local, flags.compress, flags.timeout) == (
        False,
        False,
        True,
        None,
    )
    for derived in (more, excluded, timed, flagged):
        assert derived is not base
    with pytest.raises(dataclasses.FrozenInstanceError):
        base.options.rooms = frozenset({"z"})  # type: ignore[misc]


def test_rooms_may_be_strings_or_iterables_and_in_is_to() -> None:
    io = aiosio.Server()
    operator = io.in_("a", ["b", "c"], ("d",)).except_(["x", "y"], "z")
    assert operator.options.rooms == {"a", "b", "c", "d"}
    assert operator.options.except_ == {"x", "y", "z"}
    assert io.to("a").in_("b").options.rooms == io.in_("a", "b").options.rooms
    assert io.of("/news").except_("q").options.except_ == {"q"}


def test_reserved_event_names_are_refused() -> None:
    io = aiosio.Server()
    for event in ("connect", "disconnect", "connect_error", "disconnecting"):
        with pytest.raises(ValueError, match="is a reserved event name"):
            io.to("a").emit(event)


async def test_reserved_event_names_are_refused_with_acks_too() -> None:
    io = aiosio.Server()
    with pytest.raises(ValueError, match="is a reserved event name"):
        await io.timeout(1).emit_with_ack("connect")


# -- recipients ---------------------------------------------------------------------------------


async def test_to_in_and_except_choose_the_recipients() -> None:
    async with three_clients() as room:
        io = room.io
        got = await room.who_got(lambda: io.to("ab").emit("to", 1))
        assert got == {"alice": [("to", 1)], "bob": [("to", 1)], "carol": []}

        got = await room.who_got(lambda: io.to("alice", "carol").emit("two rooms"))
        assert got == {"alice": [("two rooms",)], "bob": [], "carol": [("two rooms",)]}

        got = await room.who_got(lambda: io.to("ab", "bc").emit("once each"))  # bob is in both
        assert got == {name: [("once each",)] for name in NAMES}

        got = await room.who_got(lambda: io.except_("bc").emit("except"))
        assert got == {"alice": [("except",)], "bob": [], "carol": []}

        got = await room.who_got(lambda: io.to("bc").except_("carol").emit("combo"))
        assert got == {"alice": [], "bob": [("combo",)], "carol": []}

        sid = room.clients["bob"].id  # every socket is in a room of its id
        got = await room.who_got(lambda: io.except_(sid).emit("by id"))
        assert got == {"alice": [("by id",)], "bob": [], "carol": [("by id",)]}

        got = await room.who_got(lambda: io.to("nobody").emit("lost"))
        assert got == {name: [] for name in NAMES}

        got = await room.who_got(lambda: io.to("ab").send("text", 2))
        assert got == {
            "alice": [("message", "text", 2)],
            "bob": [("message", "text", 2)],
            "carol": [],
        }


async def test_local_volatile_and_compress_deliver_on_one_server() -> None:
    async with three_clients() as room:
        io = room.io

        def send() -> None:
            io.local.emit("local", 1)
            io.volatile.to("ab").emit("volatile", b"\x00")
            io.compress(False).to("bc").emit("raw", {"b": b"\x01"})

        assert await room.who_got(send) == {
            "alice": [("local", 1), ("volatile", b"\x00")],
            "bob": [("local", 1), ("volatile", b"\x00"), ("raw", {"b": b"\x01"})],
            "carol": [("local", 1), ("raw", {"b": b"\x01"})],
        }


async def test_broadcast_utilities_follow_the_same_choice() -> None:
    async with three_clients() as room:
        io = room.io
        assert {s.id for s in await io.to("ab").fetch_sockets()} == {
            room.clients["alice"].id,
            room.clients["bob"].id,
        }
        io.to("ab").except_("alice").sockets_join("picked")
        assert [s.id for s in await io.in_("picked").fetch_sockets()] == [room.clients["bob"].id]
        io.in_("picked").sockets_leave("picked")
        assert await io.in_("picked").fetch_sockets() == []

        reasons: asyncio.Queue[str] = asyncio.Queue()
        room.sockets["carol"].on("disconnect", lambda reason, *_: reasons.put_nowait(reason))
        io.to("bc").except_("bob").disconnect_sockets()
        assert await within(reasons.get()) == "server namespace disconnect"
        assert not room.sockets["carol"].connected
        assert room.sockets["alice"].connected and room.sockets["bob"].connected


# -- acknowledgements from several clients ------------------------------------------------------


def answer_with(room: Room, answers: dict[str, Any]) -> None:
    """Each named client answers ``question`` with its value (a tuple: several
    arguments); the others hear it and stay silent."""
    for name in NAMES:
        if name in answers:
            room.clients[name].on("question", lambda *_, value=answers[name]: value)
        else:
            room.clients[name].on("question", lambda *_, ack: None)


async def test_timeout_emit_with_ack_collects_every_answer() -> None:
    async with three_clients() as room:
        answer_with(room, {"alice": "a", "bob": ("b", "extra"), "carol": None})
        answers = await within(room.io.timeout(1).emit_with_ack("question", 1))
        # The first argument of each answer, in the order they came (None: no argument).
        assert sorted(answers, key=repr) == sorted(["a", "b", None], key=repr)

        per_socket = await within(room.io.timeout(1).emit_with_ack("question", per_socket=True))
        ids = {name: client.id for name, client in room.clients.items()}
        assert per_socket == {ids["alice"]: ["a"], ids["bob"]: ["b", "extra"], ids["carol"]: []}


async def test_emit_with_ack_without_timeout_waits_for_everyone() -> None:
    async with three_clients() as room:
        answer_with(room, dict.fromkeys(NAMES, 7))
        assert await within(room.io.to("ab").emit_with_ack("question")) == [7, 7]


async def test_no_recipient_means_no_answer_at_once() -> None:
    async with three_clients() as room:
        assert await within(room.io.to("nobody").emit_with_ack("question")) == []
        assert await within(room.io.to("nobody").emit_with_ack("question", per_socket=True)) == {}


async def test_a_silent_client_makes_the_broadcast_time_out() -> None:
    async with three_clients() as room:
        answer_with(room, {"alice": "a", "bob": "b"})  # carol never answers
        with pytest.raises(AckTimeout, match=r"^operation has timed out$"):
            await within(room.io.timeout(0.02).emit_with_ack("question"))

        ids = {name: client.id for name, client in room.clients.items()}
        per_socket = await within(
            room.io.timeout(0.02).emit_with_ack("question", 1, per_socket=True)
        )
        assert set(per_socket) == set(ids.values())
        assert per_socket[ids["alice"]] == ["a"] and per_socket[ids["bob"]] == ["b"]
        silent = per_socket[ids["carol"]]
        assert isinstance(silent, AckTimeout) and str(silent) == "no answer"


async def test_callback_gets_the_error_and_the_answers_so_far() -> None:
    async with three_clients() as room:
        answer_with(room, {"alice": "a", "bob": "b"})
        calls: asyncio.Queue[tuple[Any, list[Any]]] = asyncio.Queue()
        room.io.to("ab").emit(
            "question", callback=lambda error, answers: calls.put_nowait((error, answers))
        )
        error, answers = await within(calls.get())
        assert error is None and sorted(answers) == ["a", "b"]

        room.io.timeout(0.02).emit(
            "question", callback=lambda error, answers: calls.put_nowait((error, answers))
        )
        error, answers = await within(calls.get())
        assert isinstance(error, AckTimeout) and str(error) == "operation has timed out"
        assert sorted(answers) == ["a", "b"]  # partial: carol's is missing


async def test_a_recipient_that_disconnects_counts_as_answered_without_an_answer() -> None:
    async with three_clients() as room:
        heard: asyncio.Queue[str] = asyncio.Queue()
        answer_with(room, {"alice": "a"})
        room.clients["bob"].on("question", lambda *, ack: heard.put_nowait("bob"))
        room.clients["carol"].on("question", lambda *, ack: heard.put_nowait("carol"))
        ids = {name: client.id for name, client in room.clients.items()}

        pending = asyncio.ensure_future(room.io.emit_with_ack("question"))
        per_socket = asyncio.ensure_future(room.io.emit_with_ack("question", per_socket=True))
        assert sorted([await within(heard.get()) for _ in range(4)]) == [
            "bob",
            "bob",
            "carol",
            "carol",
        ]
        room.sockets["bob"].disconnect()
        room.sockets["carol"].disconnect()
        assert await within(pending) == ["a"]  # no timeout: it ends with the disconnections
        result = await within(per_socket)
        assert result[ids["alice"]] == ["a"]
        for name in ("bob", "carol"):
            assert isinstance(result[ids[name]], AckTimeout)
            assert str(result[ids[name]]) == "disconnected"


async def test_broadcast_acks_from_a_socket_skip_the_sender() -> None:
    async with three_clients() as room:
        answer_with(room, {"alice": "a", "bob": "b", "carol": "c"})
        alice = room.sockets["alice"]
        answers = await within(alice.broadcast.timeout(1).emit_with_ack("question"))
        assert sorted(answers) == ["b", "c"]
        assert await within(alice.to("ab").timeout(1).emit_with_ack("question")) == ["b"]


@pytest.mark.parametrize("parser", ["json", "msgpack"])
async def test_a_broadcast_with_acks_gives_each_client_its_own_id(parser: str) -> None:
    # The packet is encoded once, the ack id slotted in per recipient (JSON; msgpack
    # encodes each): over real sockets, in a namespace, with an attachment, uncompressed.
    io = aiosio.Server(parser=parser)
    news = io.of("/news")
    async with running(io) as url:
        clients = [
            aiosio.Client(url + "/news", force_new=True, reconnection=False, parser=parser)
            for _ in range(3)
        ]
        try:
            for number, client in enumerate(clients):
                client.on("question", lambda blob, n=number: [n, blob])
                await within(client.connect())
            for _ in range(2):  # the ids differ from one broadcast to the next too
                answers = await within(
                    news.compress(False)
                    .timeout(2)
                    .emit_with_ack("question", b"\x00\xff", per_socket=True)
                )
                by_client = {client.id: [[n, b"\x00\xff"]] for n, client in enumerate(clients)}
                assert answers == by_client
        finally:
            for client in clients:
                await client.disconnect()
