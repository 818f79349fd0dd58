"""socket.io-client 4.8 connects to our server: namespaces, auth, middlewares, refusals.

Every test runs for each front door (``served``) and transport mode (``mode``).
"""

from __future__ import annotations

import pytest

from tests.interop.sio.sio_helpers import MODES, Observed, Served, requires_node, run_driver

pytestmark = [pytest.mark.interop, requires_node, pytest.mark.asyncio(loop_scope="module")]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def final_transport(mode: str) -> str:
    return "polling" if mode == "polling" else "websocket"


def check_connected(obs: Observed, mode: str, nsp: str) -> dict[str, object]:
    """The client connected to ``nsp`` and the server's view of it agrees; return it."""
    connect = obs.one("connect", client="a")
    info: dict[str, object] = obs.answers("info")[0][0]
    assert info["id"] == connect["id"]
    assert info["nsp"] == nsp
    assert info["connected"] is True
    assert info["rooms"] == [connect["id"]]  # its own room, named by its id
    # Since v5 the socket id is not the Engine.IO sid, a credential ("Socket ids").
    assert connect["id"] != connect["sid"]
    assert obs.events() == []  # nothing but the welcome
    assert obs.of("event", event="welcome")[0]["args"] == [connect["id"], nsp]
    assert obs.one("transport", client="a")["name"] == final_transport(mode)
    return info


async def test_main_namespace_with_auth_query_and_headers(
    served: Served, mode: str, unique: str
) -> None:
    auth = {"tag": unique, "token": "abc", "nested": {"list": [1, 2.5, None], "ok": True}}
    obs = await run_driver(
        "connect",
        served.url,
        mode,
        auth=auth,
        query={"room": "lobby", "empty": ""},
        extraHeaders={"x-test": "yes"},
    )
    info = check_connected(obs, mode, "/")
    assert info["auth"] == auth
    query = info["query"]
    assert isinstance(query, dict)
    assert query["room"] == "lobby"
    assert query["empty"] == ""
    assert query["EIO"] == "4"
    assert query["transport"] == ("websocket" if mode == "websocket" else "polling")
    assert info["header"] == "yes"
    assert info["address"] == "127.0.0.1"
    assert str(info["url"]).startswith("/socket.io/?")
    assert await served.recorder.wait(unique, "connect") == info["id"]


async def test_custom_namespace(served: Served, mode: str, unique: str) -> None:
    obs = await run_driver("connect", served.url, mode, nsp="/custom", auth={"tag": unique})
    check_connected(obs, mode, "/custom")


async def test_dynamic_namespace_from_a_pattern(served: Served, mode: str, unique: str) -> None:
    nsp = f"/t-{unique}"
    obs = await run_driver("connect", served.url, mode, nsp=nsp, auth={"tag": unique})
    check_connected(obs, mode, nsp)
    # Empty dynamic children are removed once their last socket is gone.
    await served.recorder.wait(unique, "disconnect")
    assert nsp not in served.io.namespaces


async def test_dynamic_namespace_from_a_function(served: Served, mode: str, unique: str) -> None:
    nsp = f"/fn-{unique}"
    obs = await run_driver("connect", served.url, mode, nsp=nsp, auth={"tag": unique, "allow": 1})
    assert check_connected(obs, mode, nsp)["auth"] == {"tag": unique, "allow": 1}


async def test_refused_connections(served: Served, mode: str, unique: str) -> None:
    # name: namespace, auth, the connect_error's message and data
    refusals: dict[str, tuple[str, dict[str, object], str, object]] = {
        "unknown": ("/nope", {}, "Invalid namespace", None),
        "no-match": ("/t-bad name", {}, "Invalid namespace", None),
        "function-says-no": (f"/fn-{unique}", {"allow": False}, "Invalid namespace", None),
        "middleware": (
            "/guarded",
            {"token": "x"},
            "not authorized",
            {"reason": "bad token", "got": "x"},
        ),
        "middleware-fails": ("/guarded", {"token": "crash"}, "middleware crashed", None),
        "parent-middleware": (f"/t-{unique}", {"refuse": "go away"}, "go away", None),
    }
    attempts = [
        {"name": name, "nsp": nsp, "auth": auth} for name, (nsp, auth, _, _) in refusals.items()
    ]
    obs = await run_driver("attempts", served.url, mode, attempts=attempts)
    assert not obs.of("connect")
    errors = {line["client"]: (line["message"], line["data"]) for line in obs.of("connect_error")}
    assert errors == {name: (message, data) for name, (_, _, message, data) in refusals.items()}
    # No dynamic child is left behind by a refused CONNECT.
    assert f"/t-{unique}" not in served.io.namespaces
    assert f"/fn-{unique}" not in served.io.namespaces


async def test_middleware_refusal_then_retry(served: Served, mode: str, unique: str) -> None:
    obs = await run_driver(
        "refused",
        served.url,
        mode,
        nsp="/guarded",
        auth={"tag": unique, "token": "wrong"},
        retryAuth={"tag": unique, "token": "ok"},
    )
    error = obs.one("connect_error", client="a")
    assert error["message"] == "not authorized"
    assert error["data"] == {"reason": "bad token", "got": "wrong"}
    # The same client retries with a good token; both middlewares (one async) ran.
    info = obs.answers("info")[0][0]
    assert info["nsp"] == "/guarded"
    assert info["data"] == {"user": "alice", "checked": True}
    assert info["auth"] == {"tag": unique, "token": "ok"}
    assert served.recorder.values(unique, "connect") == [info["id"]]


async def test_several_namespaces_on_one_connection(served: Served, mode: str, unique: str) -> None:
    nsps = ["/", "/custom", f"/t-{unique}"]
    obs = await run_driver("multiplex", served.url, mode, nsps=nsps, tag=unique)
    ids = obs.one("engines")["ids"]
    assert len(set(ids)) == 1  # one Engine.IO connection
    socket_ids = [line["id"] for line in obs.of("connect")]
    assert len(set(socket_ids)) == 3  # a socket id of its own in each namespace
    for index, nsp in enumerate(nsps):
        welcome = obs.one("event", client=str(index), event="welcome")
        assert welcome["args"] == [socket_ids[index], nsp]
        assert obs.answers("echo", client=str(index)) == [[str(index)]]
