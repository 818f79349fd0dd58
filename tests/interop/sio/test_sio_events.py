"""socket.io-client 4.8 and our server exchange events and acknowledgements.

JSON and nested binary arguments both ways, acknowledgements both ways (return values,
explicit ``ack`` callables, callbacks, timeouts on either side), catch-all listeners,
volatile emits and the order of a connection's packets. Each test runs for each front
door and transport mode, in a dynamic namespace of its own.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.interop.sio.sio_helpers import MODES, Served, requires_node, run_driver

pytestmark = [pytest.mark.interop, requires_node, pytest.mark.asyncio(loop_scope="module")]

JSON_ARGS: list[Any] = [
    1,
    -2.5,
    "héllo ☃ 😀",
    True,
    None,
    [],
    {},
    {"nested": {"list": [1, {"deep": [None, False, "x"]}]}},
    "x" * 50_000,
]
# Binary at any depth, an empty attachment included (docs/protocol-notes.md, "Binary attachments").
BINARY_ARGS: list[Any] = [
    b"\x00\x01\xff",
    {"nested": [b"", {"deep": b"\x02" * 1000}], "text": "t"},
    "plain",
    [b"a", [b"b", {"c": b"c"}]],
]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_json_arguments_both_ways(served: Served, mode: str, unique: str) -> None:
    nsp = f"/t-{unique}"
    calls = [
        {"event": "echo", "args": JSON_ARGS},
        {"event": "emit-back", "args": ["pushed", *JSON_ARGS]},
    ]
    obs = await run_driver("calls", served.url, mode, nsp=nsp, auth={"tag": unique}, calls=calls)
    assert obs.answers("echo") == [JSON_ARGS]
    assert obs.events() == [["pushed", *JSON_ARGS]]
    assert served.recorder.values(unique, "any")[0] == ["echo", *JSON_ARGS]


async def test_binary_arguments_both_ways(served: Served, mode: str, unique: str) -> None:
    nsp = f"/t-{unique}"
    calls = [
        {"event": "echo", "args": BINARY_ARGS},  # BINARY_EVENT in, BINARY_ACK out
        {"event": "emit-back", "args": ["pushed", *BINARY_ARGS]},  # BINARY_EVENT out
        {"event": "echo", "args": [b""]},
    ]
    obs = await run_driver("calls", served.url, mode, nsp=nsp, auth={"tag": unique}, calls=calls)
    assert obs.answers("echo") == [BINARY_ARGS, [b""]]
    assert obs.events() == [["pushed", *BINARY_ARGS]]
    received = served.recorder.values(unique, "any")
    assert received[0] == ["echo", *BINARY_ARGS]  # bytes, not placeholders or lists
    assert received[2] == ["echo", b""]


async def test_acknowledgements_from_server_handlers(
    served: Served, mode: str, unique: str
) -> None:
    calls = [
        {"event": "echo", "args": [1, "two"]},  # a tuple: several arguments
        {"event": "echo-async", "args": ["x", b"\x01"]},  # a coroutine handler
        {"event": "echo-explicit", "args": ["y"]},  # the ack callable, called later
        {"event": "multi"},
        {"event": "none"},  # None: an ack without arguments
        {"event": "echo"},
    ]
    obs = await run_driver("calls", served.url, mode, nsp=f"/t-{unique}", calls=calls)
    assert [line["event"] for line in obs.of("ack")] == [call["event"] for call in calls]
    assert obs.answers() == [[1, "two"], ["x", b"\x01"], ["y"], ["a", 1, b"\x01\x02"], [], []]


async def test_client_ack_timeouts(served: Served, mode: str, unique: str) -> None:
    calls = [
        {"event": "never", "args": [1], "timeout": 150},  # the handler never acknowledges
        {"event": "nobody-listens", "timeout": 150},
        {"event": "raise", "timeout": 150},  # the handler fails
        {"event": "echo", "args": ["still here"]},
    ]
    obs = await run_driver(
        "calls", served.url, mode, nsp=f"/t-{unique}", auth={"tag": unique}, calls=calls
    )
    errors = obs.of("ack_error")
    assert [line["event"] for line in errors] == ["never", "nobody-listens", "raise"]
    assert {line["message"] for line in errors} == {"operation has timed out"}
    assert obs.answers("echo") == [["still here"]]
    assert served.recorder.values(unique, "never") == [[1]]


async def test_server_acknowledgement_requests(served: Served, mode: str, unique: str) -> None:
    calls = [
        {"event": "ask", "args": [{"event": "several", "args": [1, b"\x01"]}]},
        {"event": "ask", "args": [{"event": "single", "timeout": 2}]},
        {"event": "ask", "args": [{"event": "empty"}]},
        {"event": "ask", "args": [{"event": "binary", "args": [{"n": [b"\x02"]}]}]},
        {"event": "ask", "args": [{"event": "ignored", "timeout": 0.15}]},
        {"event": "ask-callback", "args": ["several", "via callback", b"\x03"]},
        {"event": "echo", "args": ["fence"]},
    ]
    answers = {
        "several": "echo",
        "single": ["only"],
        "empty": [],
        "binary": [{"blob": b"\x00\xff"}, "second"],
    }
    obs = await run_driver(
        "calls", served.url, mode, nsp=f"/t-{unique}", calls=calls, answers=answers
    )
    assert obs.answers("ask") == [
        [{"answer": [1, b"\x01"]}],  # several arguments: a tuple on the server
        [{"answer": "only"}],
        [{"answer": None}],
        [{"answer": [{"blob": b"\x00\xff"}, "second"]}],  # a BINARY_ACK from the client
        [{"error": "AckTimeout"}],
    ]
    asked = [line for line in obs.of("event") if line["event"] != "welcome"]
    assert all(line["ack"] for line in asked if line["event"] != "answered")
    assert obs.events()[-2:] == [
        ["several", "via callback", b"\x03"],
        ["answered", "via callback", b"\x03"],
    ]


async def test_catch_all_listeners(served: Served, mode: str, unique: str) -> None:
    nsp = f"/t-{unique}"
    emits = [
        {"event": "first", "args": [1]},
        {"event": "forbidden", "args": ["refused by socket.use"]},
        {"event": "emit-back", "args": ["pushed", b"\x01", {"k": "v"}]},
        {"event": "broadcast", "args": [{"via": "namespace", "event": "to-all", "args": [2]}]},
        {"event": "stop-any"},
        {"event": "unheard"},
    ]
    obs = await run_driver(
        "emits", served.url, mode, nsp=nsp, auth={"tag": unique}, emits=emits, outgoing=True
    )
    sent = [[line["event"], *line["args"]] for line in obs.of("outgoing")]
    assert sent == [[emit["event"], *emit.get("args", [])] for emit in emits] + [["echo", "fence"]]
    assert obs.events() == [["pushed", b"\x01", {"k": "v"}], ["to-all", 2], ["fence"]]
    # The server's on_any saw every incoming event until off_any; socket.use refused one.
    heard = served.recorder.values(unique, "any")
    assert heard == [[emit["event"], *emit.get("args", [])] for emit in emits[:5]]
    assert served.recorder.values(unique, "error") == ["forbidden event"]
    # on_any_outgoing sees direct emits and broadcasts alike.
    welcome = ["welcome", obs.one("connect")["id"], nsp]
    assert served.recorder.values(unique, "outgoing") == [
        welcome,
        ["pushed", b"\x01", {"k": "v"}],
        ["to-all", 2],
        ["fence"],
    ]


async def test_packets_are_handled_in_arrival_order(served: Served, mode: str, unique: str) -> None:
    # Sync and async handlers, text and binary packets, interleaved.
    emits = [
        {"event": "echo-async" if index % 3 else "echo", "args": [index, b"\x00"] * (index % 2)}
        for index in range(60)
    ]
    obs = await run_driver(
        "emits", served.url, mode, nsp=f"/t-{unique}", auth={"tag": unique}, emits=emits
    )
    heard = served.recorder.values(unique, "any")
    assert heard[:-1] == [[emit["event"], *emit["args"]] for emit in emits]
    assert obs.answers("echo") == [["fence"]]


async def test_volatile_emits(served: Served, mode: str, unique: str) -> None:
    calls = [{"event": "volatile", "args": [3]}, {"event": "echo", "args": ["fence"]}]
    obs = await run_driver("calls", served.url, mode, nsp=f"/t-{unique}", calls=calls)
    assert obs.answers("volatile") == [["sent"]]
    events = obs.events()
    assert events[-1] == ["after-volatile"]
    volatile = [event for event in events if event[0] == "v"]
    # Dropped only when the transport cannot take them at once; never duplicated or
    # reordered. A WebSocket is always ready (during an upgrade, neither transport is).
    assert volatile in ([["v", 0], ["v", 1], ["v", 2]], [])
    if mode == "websocket":
        assert len(volatile) == 3
