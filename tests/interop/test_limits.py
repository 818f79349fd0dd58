"""The official socket.io-client (Node, pinned) against refused handshakes: a 429 is a
``connect_error``, and the client's reconnection backs off until a handshake is let in."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

import aiosio
from tests.server.test_admission import FRONT_DOORS, get, serving

pytestmark = pytest.mark.interop


@pytest.mark.parametrize(
    ("kind", "transport"),
    [(kind, "polling") for kind in FRONT_DOORS] + [("standalone", "websocket")],
)
async def test_a_429_is_a_connect_error_and_reconnection_backs_off(
    node: Any, kind: str, transport: str
) -> None:
    # One handshake a second from an address; the test spends the first token itself.
    io = aiosio.Server(handshakes_per_ip=(1, 1))
    async with serving(io, kind) as port:
        assert (await get(port))[0] == 200
        result = await node("limits_client.js", f"http://127.0.0.1:{port}", transport)
    assert result["connected"], result
    errors, attempts = result["errors"], result["attempts"]
    assert len(errors) >= 2, result
    assert {error["message"] for error in errors} == {
        "xhr poll error" if transport == "polling" else "websocket error"
    }
    if transport == "polling":
        assert {error["description"] for error in errors} == {429}
    # Backing off: each wait at least as long as the one before it (100, 200, 400 ms...).
    times = [0] + [attempt["t"] for attempt in attempts]
    waits = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert [a["attempt"] for a in attempts] == list(range(1, len(attempts) + 1))
    assert all(b >= a * 1.5 for a, b in itertools.pairwise(waits[1:])), waits
    assert io.engine.stats.refused["handshakes_per_ip"] == len(errors)
