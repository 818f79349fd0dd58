"""Rooms and broadcasts seen by several socket.io-client 4.8 clients.

Each broadcast is followed by a ``fence`` to the whole namespace, so every client has
received all it will get of a broadcast when its fence arrives: what it did not get by
then, it never gets. Each test runs in a dynamic namespace of its own.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.interop.sio.sio_helpers import MODES, Observed, Served, requires_node, run_driver

pytestmark = [pytest.mark.interop, requires_node, pytest.mark.asyncio(loop_scope="module")]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def deliveries(obs: Observed, clients: str) -> dict[str, list[list[Any]]]:
    """For each broadcast (split at the fences), what each client received."""
    result: dict[str, list[list[Any]]] = {}
    for client in clients:
        rounds: list[list[Any]] = [[]]
        for event in obs.events(client):
            if event == ["fence"]:
                rounds.append([])
            else:
                rounds[-1].append(event)
        result[client] = rounds[:-1]
    return result


def receivers(obs: Observed, clients: str) -> list[str]:
    """For each broadcast, the clients that received it (each letter once per delivery)."""
    per_client = deliveries(obs, clients)
    count = len(per_client[clients[0]])
    return [
        "".join(client * len(per_client[client][index]) for client in clients)
        for index in range(count)
    ]


async def test_rooms_to_except_and_several_rooms(served: Served, mode: str, unique: str) -> None:
    members = {"a": ["r1", "r3"], "b": ["r1", "r2"], "c": ["r2"], "d": []}
    broadcasts = [
        {"via": "namespace", "to": ["r1"], "event": "to-r1"},
        # b is in both rooms and gets it once.
        {"via": "namespace", "to": ["r1", "r2"], "event": "to-r1-r2"},
        {"via": "namespace", "to": ["r2"], "except": ["r1"], "event": "r2-except-r1"},
        {"via": "namespace", "except": ["r1"], "event": "except-r1"},
        {"via": "namespace", "to": ["r1", "r2"], "except": ["@b"], "event": "except-b"},
        {"via": "namespace", "to": ["@c", "r1"], "event": "to-c-and-r1"},
        {"via": "namespace", "to": ["r3"], "event": "to-r3"},  # a left r3
        {"via": "namespace", "to": ["nobody-here"], "event": "to-empty"},
        {"via": "namespace", "event": "everyone", "args": [1, b"\x02", {"k": [b""]}]},
    ]
    obs = await run_driver(
        "rooms",
        served.url,
        mode,
        nsp=f"/t-{unique}",
        members=members,
        leave={"a": "r3"},
        sender="d",
        broadcasts=broadcasts,
    )
    # join/leave answer with the socket's rooms (its own room included).
    a_id = obs.one("connect", client="a")["id"]
    assert obs.answers("join", "a") == [[sorted([a_id, "r1", "r3"])]]
    assert obs.answers("leave", "a") == [[sorted([a_id, "r1"])]]
    assert receivers(obs, "abcd") == ["ab", "abc", "c", "cd", "ac", "abc", "", "", "abcd"]
    for client in "abcd":
        rounds = deliveries(obs, "abcd")[client]
        assert rounds[-1] == [["everyone", 1, b"\x02", {"k": [b""]}]]
        assert all(
            event[0] == broadcasts[index]["event"]
            for index, got in enumerate(rounds)
            for event in got
        )


async def test_broadcast_from_one_socket_to_the_others(
    served: Served, mode: str, unique: str
) -> None:
    members = {"a": ["r1"], "b": ["r1"], "c": [], "d": ["r1"]}
    broadcasts = [
        {"via": "socket", "event": "to-others", "args": ["from b", b"\x01"]},
        {"via": "socket", "to": ["r1"], "event": "to-r1"},  # socket.to(): never the sender
        {"via": "socket", "except": ["r1"], "event": "except-r1"},
    ]
    obs = await run_driver(
        "rooms",
        served.url,
        mode,
        nsp=f"/t-{unique}",
        members=members,
        sender="b",
        broadcasts=broadcasts,
    )
    assert receivers(obs, "abcd") == ["acd", "ad", "c"]
    assert deliveries(obs, "abcd")["a"][0] == [["to-others", "from b", b"\x01"]]


async def test_volatile_broadcast(served: Served, mode: str, unique: str) -> None:
    members = {"a": ["r"], "b": ["r"], "c": []}
    broadcasts = [{"via": "namespace", "to": ["r"], "volatile": True, "event": "v"}]
    obs = await run_driver(
        "rooms",
        served.url,
        mode,
        nsp=f"/t-{unique}",
        members=members,
        sender="c",
        broadcasts=broadcasts,
    )
    got = receivers(obs, "abc")[0]
    # At most once each, only to the room; over WebSocket nobody's transport is busy.
    assert got in ("ab", "a", "b", "")
    if mode == "websocket":
        assert got == "ab"


async def test_broadcast_from_a_parent_reaches_every_child(
    served: Served, mode: str, unique: str
) -> None:
    nsps = {"a": f"/t-{unique}-1", "b": f"/t-{unique}-2", "c": f"/t-{unique}-2"}
    obs = await run_driver(
        "rooms",
        served.url,
        mode,
        nsp="/",
        nsps=nsps,
        members={"a": [], "b": ["r"], "c": []},
        sender="a",
        broadcasts=[
            {"via": "parent", "event": "to-children"},
            {"via": "parent", "to": ["r"], "event": "to-r-of-children"},
        ],
    )
    assert receivers(obs, "abc") == ["abc", "b"]


async def test_broadcast_with_acknowledgements(served: Served, mode: str, unique: str) -> None:
    members = {"a": ["r", "all"], "b": ["r", "all"], "c": ["all"]}
    calls = [
        {"client": "a", "event": "ask-room", "args": [{"room": "r", "event": "q", "timeout": 3}]},
        {
            "client": "a",
            "event": "ask-room",
            "args": [{"room": "all", "event": "q", "timeout": 0.3}],
        },
        {
            "client": "a",
            "event": "ask-room",
            "args": [{"room": "all", "event": "q", "timeout": 0.3, "per_socket": True}],
        },
        {
            "client": "a",
            "event": "ask-room",
            "args": [{"room": "empty", "event": "q", "timeout": 3}],
        },
    ]
    obs = await run_driver(
        "rooms",
        served.url,
        mode,
        nsp=f"/t-{unique}",
        members=members,
        sender="a",
        calls=calls,
        clientAnswers={"a": {"q": ["yes from a"]}, "b": {"q": ["yes from b", b"\x01"]}},
    )
    ids = {client: obs.one("connect", client=client)["id"] for client in "abc"}
    answers = obs.answers("ask-room")
    # Every recipient answered: the first argument of each answer, in no set order.
    assert answers[0][0].keys() == {"answers"}
    assert sorted(answers[0][0]["answers"]) == ["yes from a", "yes from b"]
    # c never answers: the whole broadcast times out...
    assert answers[1] == [{"error": "AckTimeout"}]
    # ... and per socket, who answered what and who did not.
    assert answers[2] == [
        {ids["a"]: ["yes from a"], ids["b"]: ["yes from b", b"\x01"], ids["c"]: "AckTimeout"}
    ]
    assert answers[3] == [{"answers": []}]  # nobody to ask: answered at once
