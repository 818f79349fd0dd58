"""Every disconnect reason a socket.io-client 4.8 client can trigger or observe.

The expected pairs (server ``disconnect`` reason, client ``disconnect`` reason) are those of
the reference server, socket.io 4.8.1 with the same client, checked on the wire with the
copy in ``node_modules``. Heartbeat cases make the client deaf to pings (the driver drops
them) and shorten or lengthen its own ping timeout. The reference's polling client sees
"transport error" when the server shuts down while no long-poll is held; ours keeps the
CLOSE for the next GET, so it is "transport close" on every transport.
"""

from __future__ import annotations

import pytest

from tests.interop.sio.sio_helpers import MODES, Served, requires_node, run_driver
from tests.interop.sio.sio_helpers import node_driver as start_driver

pytestmark = [pytest.mark.interop, requires_node, pytest.mark.asyncio(loop_scope="module")]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


REASONS = [
    # how, the server's reason, the client's reason
    ("client", "client namespace disconnect", "io client disconnect"),
    ("server", "server namespace disconnect", "io server disconnect"),
    ("server_close", "server namespace disconnect", "io server disconnect"),
    # Right after connecting, before joining: in upgrade mode the close comes mid-upgrade,
    # and the DISCONNECT must reach the client over the new WebSocket.
    ("server_close_early", "server namespace disconnect", "io server disconnect"),
    ("engine_close", "transport close", "forced close"),
    ("deaf", "ping timeout", "transport close"),  # the server's ping timeout
    ("impatient", "transport close", "ping timeout"),  # the client's ping timeout
    ("bad_packet", "forced close", "transport close"),  # unknown Socket.IO packet type
    ("bad_json", "forced close", "transport close"),
    ("double_connect", "forced close", "transport close"),  # CONNECT to a joined namespace
    ("foreign_event", "forced close", "transport close"),  # EVENT to a namespace not joined
]


async def test_disconnect_reasons(served: Served, mode: str, unique: str) -> None:
    # Every case on a client of its own, side by side in one driver.
    cases = [{"how": how, "tag": f"{unique}:{how}"} for how, _, _ in REASONS]
    obs = await run_driver("disconnect", served.url, mode, cases=cases, join=["room"])
    recorder = served.recorder
    seen = {}
    for how, _, _ in REASONS:
        tag = f"{unique}:{how}"
        client_reason = obs.one("disconnect", client=tag)["reason"]
        seen[how] = (await recorder.wait(tag, "disconnect"), client_reason)
        # "disconnecting" comes first, while the socket is still in its rooms.
        socket_id = obs.one("connect", client=tag)["id"]
        assert recorder.kinds(tag)[-2:] == ["disconnecting", "disconnect"]
        rooms = [socket_id] if how == "server_close_early" else sorted([socket_id, "room"])
        assert recorder.values(tag, "disconnecting") == [(seen[how][0], rooms)]
        assert socket_id not in served.io.sockets.sockets
    assert seen == {how: (server, client) for how, server, client in REASONS}


async def test_server_shutting_down(fresh_server: object, mode: str, unique: str) -> None:
    server: Served = await fresh_server()  # type: ignore[operator]
    cases = [{"how": "wait", "tag": unique}]
    async with start_driver("disconnect", server.url, mode, cases=cases) as driver:
        await driver.expect("ready")
        await server.io.close()
        obs = await driver.finish()
    assert obs.one("disconnect", client=unique)["reason"] == "transport close"
    assert server.recorder.values(unique, "disconnect") == ["server shutting down"]


@pytest.mark.parametrize(
    ("how", "server_reason", "client_reason"),
    [
        ("client", "client namespace disconnect", "io client disconnect"),
        ("server", "server namespace disconnect", "io server disconnect"),
    ],
    ids=["client", "server"],
)
async def test_leaving_one_namespace_keeps_the_others(
    served: Served, mode: str, unique: str, how: str, server_reason: str, client_reason: str
) -> None:
    nsps = ["/", "/custom", f"/t-{unique}"]
    obs = await run_driver("multiplex", served.url, mode, nsps=nsps, how=how, tag=unique)
    assert obs.one("disconnect", client="0")["reason"] == client_reason
    assert await served.recorder.wait(f"{unique}:0", "disconnect") == server_reason
    # The others go on over the same connection.
    assert obs.answers("echo", client="1") == [["1"]]
    assert obs.answers("echo", client="2") == [["2"]]
    assert obs.one("engine")["state"] == "open"


async def test_disconnect_with_close_ends_every_namespace(
    served: Served, mode: str, unique: str
) -> None:
    nsps = ["/", "/custom", f"/t-{unique}"]
    obs = await run_driver("multiplex", served.url, mode, nsps=nsps, how="server_close", tag=unique)
    for index in range(3):
        assert obs.one("disconnect", client=str(index))["reason"] == "io server disconnect"
        reason = await served.recorder.wait(f"{unique}:{index}", "disconnect")
        assert reason == "server namespace disconnect"
    assert obs.one("engine")["state"] in ("closing", "closed")  # the client closes it too
