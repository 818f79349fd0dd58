"""The instruction-count workloads run and do what they say (without valgrind: in-process).

`make bench` runs them under callgrind; a workload that silently stopped doing its work
(a changed front door, a handshake that no longer completes) would report a figure for
nothing, so each one is run here on a small count and its output checked.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from benchmarks.instructions import Harness, frame

from benchmarks import floor, instructions, instructions_profile

pytestmark = pytest.mark.timeout(60)


@pytest.mark.parametrize("name", list(instructions.WORKLOADS))
async def test_every_workload_runs_to_the_end(name: str) -> None:
    workload, n, _ = instructions.WORKLOADS[name]
    io = instructions.server_for(name)
    await io.startup()
    try:
        await asyncio.wait_for(workload(Harness(io), min(n, 200)), 30)
    finally:
        await io.close()


@pytest.mark.parametrize("name", ["app-echo", "app-fanout", "app-connect", "app-polling"])
async def test_every_app_workload_runs_to_the_end(name: str) -> None:
    assert instructions.known(name)
    ops = min(instructions.WORKLOADS[instructions.base(name)][1], 200)
    # In-process as callgrind's child runs it: the server and the app's front set up and closed.
    await asyncio.wait_for(instructions._run(name, ops), 30)


async def test_the_app_door_answers_socketio_and_the_app_beside_it() -> None:
    io = instructions._echo_server()
    front = instructions.app_front(io)
    await io.startup()
    try:
        harness = Harness(io, front)
        ws = await harness.websocket()
        ws.keep = True
        harness.send(ws, frame(b'427["echo",7]'))
        await asyncio.wait_for(ws.wait_writes(ws.writes + 1), 10)
        assert b"".join(ws.chunks) == b"\x81\x06437[7]"
        # The door is the one of ``aiosio serve main:app``: a request that is not Socket.IO's
        # goes to the FastAPI app.
        http = harness.open()
        http.keep = True
        harness.send(http, b"GET /json HTTP/1.1\r\nHost: b\r\n\r\n")
        await asyncio.wait_for(http.wait_writes(1, 1), 10)
        while b'{"message":"Hello, World!"}' not in b"".join(http.chunks):
            await asyncio.wait_for(http.wait_writes(http.writes + 1), 10)
        assert b"".join(http.chunks).startswith(b"HTTP/1.1 200")
    finally:
        await io.close()
        await front.close(0)


def test_app_scenarios_are_known_only_for_workloads() -> None:
    assert instructions.base("app-polling") == "polling"
    assert not instructions.known("app-nothing")
    assert not instructions.known("app-floor-echo")


async def test_the_echo_workload_gets_one_ack_per_event() -> None:
    io = instructions._echo_server()
    await io.startup()
    try:
        harness = Harness(io)
        ws = await harness.websocket()
        ws.keep = True
        harness.send(ws, frame(b'427["echo",7]') + frame(b'428["echo","x"]'))
        await asyncio.wait_for(ws.wait_writes(ws.writes + 1), 10)
        assert b"".join(ws.chunks) == b'\x81\x06437[7]\x81\x08438["x"]'
    finally:
        await io.close()


async def test_the_fanout_workload_reaches_every_recipient() -> None:
    io = instructions._echo_server()
    await io.startup()
    try:
        harness = Harness(io)
        sockets = [await harness.websocket() for _ in range(3)]
        before = [s.writes for s in sockets]
        harness.send(sockets[0], frame(b'42["fan",1]'))
        await asyncio.wait_for(sockets[-1].wait_writes(before[-1] + 1), 10)
        assert [s.writes - b for s, b in zip(sockets, before, strict=True)] == [1, 1, 1]
    finally:
        await io.close()


def test_history_rows_carry_the_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    history = tmp_path / "instructions.csv"
    monkeypatch.setattr(instructions, "HISTORY", history)
    instructions.record({"echo": 1234.4})
    instructions.record({"echo": 1200.0})
    lines = history.read_text().splitlines()
    assert lines[0] == "date,commit,python,scenario,instructions_per_op"
    assert [line.split(",")[3:] for line in lines[1:]] == [["echo", "1234"], ["echo", "1200"]]


@pytest.mark.parametrize("name", floor.FLOORS)
async def test_every_floor_workload_runs_to_the_end(name: str) -> None:
    # The floor answers the same bytes as the server (the harness waits for each answer).
    await asyncio.wait_for(floor.run_floor(name, min(instructions.WORKLOADS[name][1], 200)), 30)


def test_a_callgrind_output_is_read_as_each_functions_own_cost(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.write_text(
        "events: Ir\n"
        "ob=(1) /lib/libpython3.11.so\nfl=(1) Python/ceval.c\nfn=(1) eval\n"
        "0 100\ncfl=(2) Objects/dictobject.c\ncfn=(2) lookup\ncalls=1 0\n0 40\n+1 5\n"
        "fl=(2)\nfn=(2)\n0 40\n"
    )
    own = instructions_profile.parse_callgrind(out)
    # The call's inclusive 40 is the callee's, not the caller's own.
    assert own == {
        ("/lib/libpython3.11.so", "Python/ceval.c", "eval"): 105,
        ("/lib/libpython3.11.so", "Objects/dictobject.c", "lookup"): 40,
    }
    assert instructions_profile.c_group("/lib/libpython3.11.so", "Python/ceval.c", "eval") == (
        "interpreter: eval loop"
    )
