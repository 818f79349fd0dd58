"""Our client's WebTransport transport: headers on the CONNECT, the server's close, and
the session's end seen as "transport close" (the server side is in
tests/serve/test_webtransport.py, whose fixture serves these tests too)."""

from __future__ import annotations

import asyncio

import aiosio
from tests.serve.test_webtransport import Served, served  # noqa: F401  (the fixture)
from tests.support.waits import within


async def test_extra_headers_and_query_reach_the_server(served: Served) -> None:  # noqa: F811
    seen: asyncio.Future[dict[str, object]] = asyncio.get_running_loop().create_future()

    @served.io.on("connection")
    def record(socket: aiosio.Socket) -> None:
        if not seen.done():
            seen.set_result({"headers": socket.handshake.headers, "query": socket.handshake.query})

    client = served.client(
        transports=["webtransport"], extra_headers={"X-Test": "wt"}, query={"room": "a"}
    )
    await client.connect()
    try:
        got = await within(seen, 5)
    finally:
        await client.disconnect()
    headers = got["headers"]
    assert isinstance(headers, dict) and headers.get("x-test") == "wt"
    query = got["query"]
    assert isinstance(query, dict) and query.get("room") == "a"
    assert query.get("transport") == "webtransport"


async def test_the_server_closing_the_session_is_a_transport_close(served: Served) -> None:  # noqa: F811
    client = served.client(transports=["webtransport"])
    closed: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    client.io.on("close", lambda reason, _error: closed.done() or closed.set_result(reason))
    await client.connect()
    try:
        for session in list(served.io.engine.sessions.values()):
            session.close_transport()
        assert await within(closed, 5) == "transport close"
    finally:
        await client.disconnect()
