"""The official socket.io-client (Node, pinned) against refused handshakes: a 429 is a
``connect_error``, and the client's reconnection backs off until a handshake is let in."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import aiosio
from aiosio.engineio.handshake import HTTPError
from aiosio.server.admission import Admission
from aiosio.server.http import HTTPRequest
from tests.server.test_admission import FRONT_DOORS, get, post, serving, sid_of
from tests.support.waits import within

pytestmark = pytest.mark.interop

REFUSALS = 3


class Watched(Admission):
    """Admission that tells when it has refused ``REFUSALS`` handshakes."""

    __slots__ = ("enough",)

    def __init__(self, io: aiosio.Server) -> None:
        super().__init__(io.engine.stats, max_sessions_per_ip=1)
        self.enough = asyncio.Event()

    def check(self, request: HTTPRequest, now: float) -> HTTPError | None:
        refusal = super().check(request, now)
        if refusal is not None and self.stats.refused["max_sessions_per_ip"] >= REFUSALS:
            self.enough.set()
        return refusal


@pytest.mark.parametrize(
    ("kind", "transport"),
    [(kind, "polling") for kind in FRONT_DOORS] + [("standalone", "websocket")],
)
async def test_a_429_is_a_connect_error_and_reconnection_backs_off(
    node: Any, kind: str, transport: str
) -> None:
    io = aiosio.Server()
    io.engine.admission = admission = Watched(io)
    async with serving(io, kind) as port:
        held = await get(port)  # the address's one session: the client gets 429s
        client = asyncio.create_task(
            node("limits_client.js", f"http://127.0.0.1:{port}", transport)
        )
        await within(admission.enough.wait(), 20)
        assert await post(port, sid_of(held[2]), "1") == 200  # the session goes: room again
        result = await within(client, 30)
    assert result["connected"], result
    errors, attempts = result["errors"], result["attempts"]
    assert len(errors) == io.engine.stats.refused["max_sessions_per_ip"] >= REFUSALS
    assert {error["message"] for error in errors} == {
        "xhr poll error" if transport == "polling" else "websocket error"
    }
    if transport == "polling":
        assert {error["description"] for error in errors} == {429}
    # Backing off: each attempt comes at least its delay after the error before it (100,
    # 200, 400 ms..., doubling up to 2 s). Only that lower bound is checked, as load can
    # make an attempt later, never earlier: the gaps between attempts also hold each refused
    # request's round trip, and comparing them failed when one round trip was slow.
    assert [a["attempt"] for a in attempts] == list(range(1, len(attempts) + 1))
    for error, attempt in zip(errors, attempts, strict=False):
        delay = min(100 * 2 ** (attempt["attempt"] - 1), 2000)
        assert attempt["t"] - error["t"] >= delay - 2, (errors, attempts)  # a ms clock
