"""Server-side socket utilities acting on socket.io-client 4.8 clients.

``fetch_sockets``, ``sockets_join``, ``sockets_leave``, ``disconnect_sockets`` and a fetched
socket's own methods, on a dynamic namespace and through the ``io`` shortcuts of ``/``.
The test drives the clients step by step (the driver's ``puppet`` scenario).
"""

from __future__ import annotations

import pytest

from tests.interop.sio.sio_helpers import MODES, NodeDriver, Served, node_driver, requires_node

pytestmark = [pytest.mark.interop, requires_node, pytest.mark.asyncio(loop_scope="module")]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def connect(driver: NodeDriver, name: str, nsp: str, tag: str) -> str:
    driver.send(do="connect", client=name, nsp=nsp, auth={"tag": tag})
    line = await driver.expect("connect", client=name)
    return str(line["id"])


async def fence(driver: NodeDriver, served: Served, nsp: str, clients: str) -> None:
    """Everything sent to these clients before now has arrived."""
    served.io.of(nsp).emit("fence")
    for name in clients:
        driver.send(do="wait", client=name, event="fence")
        await driver.expect("waited", client=name, event="fence")


def received(driver: NodeDriver, client: str, event: str) -> list[list[object]]:
    return [line["args"] for line in driver.lines.of("event", client=client, event=event)]


async def test_fetch_join_leave_and_disconnect_sockets(
    served: Served, mode: str, unique: str
) -> None:
    nsp = f"/t-{unique}"
    recorder = served.recorder
    async with node_driver("puppet", served.url, mode) as driver:
        ids = {name: await connect(driver, name, nsp, f"{unique}:{name}") for name in "abc"}
        namespace = served.io.of(nsp)

        fetched = {socket.id: socket for socket in await namespace.fetch_sockets()}
        assert fetched.keys() == set(ids.values())
        a = fetched[ids["a"]]
        assert a.handshake.auth == {"tag": f"{unique}:a"}
        assert a.rooms == {ids["a"]}

        namespace.in_(ids["a"]).sockets_join("solo")
        namespace.sockets_join(["x", "y"])
        rooms = {socket.id: socket.rooms for socket in await namespace.fetch_sockets()}
        assert rooms == {
            ids["a"]: {ids["a"], "solo", "x", "y"},
            ids["b"]: {ids["b"], "x", "y"},
            ids["c"]: {ids["c"], "x", "y"},
        }
        assert [socket.id for socket in await namespace.in_("solo").fetch_sockets()] == [ids["a"]]
        others = await namespace.in_("x").except_("solo").fetch_sockets()
        assert {socket.id for socket in others} == {ids["b"], ids["c"]}

        namespace.in_("x").except_(ids["c"]).sockets_leave("y")
        assert [socket.id for socket in await namespace.in_("y").fetch_sockets()] == [ids["c"]]
        namespace.in_("solo").sockets_leave(["solo"])
        assert await namespace.in_("solo").fetch_sockets() == []

        namespace.to("y").emit("to-y", b"\x01")
        a.emit("direct", {"to": "a"})  # a fetched socket emits to its own client
        await fence(driver, served, nsp, "abc")
        assert [received(driver, name, "to-y") for name in "abc"] == [[], [], [[b"\x01"]]]
        assert received(driver, "a", "direct") == [[{"to": "a"}]]

        # A cluster of one: nobody else hears a server-side emit.
        assert await namespace.server_side_emit("hello", timeout=0.1) == []

        namespace.in_(ids["b"]).disconnect_sockets()
        assert (await driver.expect("disconnect", client="b"))["reason"] == "io server disconnect"
        assert await recorder.wait(f"{unique}:b", "disconnect") == "server namespace disconnect"
        assert {socket.id for socket in await namespace.fetch_sockets()} == {ids["a"], ids["c"]}

        namespace.disconnect_sockets(close=True)
        for name in "ac":
            line = await driver.expect("disconnect", client=name)
            assert line["reason"] == "io server disconnect"
            reason = await recorder.wait(f"{unique}:{name}", "disconnect")
            assert reason == "server namespace disconnect"
        assert await namespace.fetch_sockets() == []
        driver.send(do="exit")
        await driver.finish()


async def test_main_namespace_shortcuts(served: Served, mode: str, unique: str) -> None:
    io = served.io
    room = f"room-{unique}"
    async with node_driver("puppet", served.url, mode) as driver:
        socket_id = await connect(driver, "a", "/", unique)
        io.in_(socket_id).sockets_join(room)
        assert [socket.id for socket in await io.in_(room).fetch_sockets()] == [socket_id]
        assert socket_id in {socket.id for socket in await io.fetch_sockets()}
        io.to(room).except_("nobody").emit("to-room", 1)
        io.except_(room).emit("not-to-room")
        driver.send(do="wait", client="a", event="to-room")
        await driver.expect("waited", client="a", event="to-room")
        io.in_(room).sockets_leave(room)
        assert await io.in_(room).fetch_sockets() == []
        io.in_(socket_id).disconnect_sockets()
        assert (await driver.expect("disconnect", client="a"))["reason"] == "io server disconnect"
        assert await served.recorder.wait(unique, "disconnect") == "server namespace disconnect"
        driver.send(do="exit")
        obs = await driver.finish()
    assert [line["event"] for line in obs.of("event", client="a")] == ["welcome", "to-room"]


async def test_pending_acks_fail_when_the_socket_disconnects(
    served: Served, mode: str, unique: str
) -> None:
    # Better than the reference: no waiting for a timeout (there is none here).
    async with node_driver("puppet", served.url, mode) as driver:
        await connect(driver, "a", f"/t-{unique}", unique)
        driver.send(do="emit", client="a", event="ask", args=[{"event": "hold"}])
        driver.send(do="wait", client="a", event="hold")
        await driver.expect("waited", client="a", event="hold")
        driver.send(do="disconnect", client="a")
        assert await served.recorder.wait(unique, "ask-failed") == "Disconnected"
        driver.send(do="exit")
        await driver.finish()
