"""An ASGI application behind the standalone server (aiosio.serve.asgi_app), on raw
sockets: what HTTP/1.1 gives the app (streamed bodies both ways, flow control,
disconnects, 100-continue, HEAD, pipelining in order, errors), the scope it sees, and the
limits that hold for its requests. Socket.IO stays on its own path beside it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from aiosio.serve.app_cycle import BODY_HIGH_WATER
from aiosio.serve.asgi_app import MAX_PIPELINED, AppHTTPConnection
from aiosio.server.router import Limits
from tests.serve.app_support import (
    app_server,
    read_chunk,
    read_head,
    read_response,
    request,
    until,
)
from tests.serve.serve_support import get, polling
from tests.support.waits import within

Scope = dict[str, Any]


async def echo_app(scope: Scope, receive: Any, send: Any) -> None:
    """Answers with what it saw: the scope (JSON-able parts) and the body's pieces."""
    assert scope["type"] == "http"
    sizes = []
    while True:
        message = await receive()
        sizes.append(len(message["body"]))
        if not message["more_body"]:
            break
    seen = {
        key: scope[key]
        for key in ("http_version", "server", "client", "scheme", "method", "root_path", "path")
    }
    seen["raw_path"] = scope["raw_path"].decode()
    seen["query_string"] = scope["query_string"].decode()
    seen["headers"] = [[n.decode(), v.decode()] for n, v in scope["headers"]]
    seen["state"] = scope["state"]
    seen["sizes"] = sizes
    body = json.dumps(seen).encode()
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def test_the_scope_and_socketio_beside_the_app(echo_router: Any) -> None:
    async with app_server(echo_router(), echo_app, root_path="/api") as server:
        server.front.state["pool"] = "opened"
        reader, writer = await server.connect()
        writer.write(request("GET", "/a%20b/c?x=1&y", "X-Thing: One"))
        # Socket.IO on the same connection, answered by the engine, never by the app.
        writer.write(get(polling()))
        writer.write(request("POST", "/upload", body=b"hello"))
        seen = json.loads((await read_response(reader)).body)
        assert seen["http_version"] == "1.1"
        assert seen["server"] == ["127.0.0.1", server.port]
        assert seen["client"][0] == "127.0.0.1"
        assert seen["scheme"] == "http"
        assert (seen["root_path"], seen["path"], seen["raw_path"]) == (
            "/api",
            "/api/a b/c",
            "/api/a%20b/c",
        )
        assert seen["query_string"] == "x=1&y"
        assert ["x-thing", "One"] in seen["headers"]
        assert seen["state"] == {"pool": "opened"}
        opened = await read_response(reader)
        assert opened.body.startswith(b"0{") and b'"sid"' in opened.body
        posted = json.loads((await read_response(reader)).body)
        assert (posted["method"], posted["sizes"]) == ("POST", [5])


async def test_what_only_starts_like_the_engine_path_is_the_apps(echo_router: Any) -> None:
    async with app_server(echo_router(), echo_app) as server:
        reader, writer = await server.connect()
        writer.write(request("GET", "/socket.io/x?EIO=4&transport=polling"))
        writer.write(request("GET", "/socket.io/%78"))
        writer.write(request("GET", "/socket.io?EIO=4&transport=polling"))  # the bare spelling
        writer.write(request("GET", "/socket.io/%3FEIO=4&transport=polling"))  # "?" in the path
        assert json.loads((await read_response(reader)).body)["path"] == "/socket.io/x"
        assert json.loads((await read_response(reader)).body)["path"] == "/socket.io/x"
        opened = await read_response(reader)
        assert opened.body.startswith(b"0{") and b'"sid"' in opened.body
        assert json.loads((await read_response(reader)).body)["path"] == (
            "/socket.io/?EIO=4&transport=polling"
        )


async def test_bodies_are_streamed_with_flow_control(echo_router: Any) -> None:
    release = asyncio.Event()
    received: list[int] = []

    async def slow_reader(scope: Scope, receive: Any, send: Any) -> None:
        await release.wait()
        while True:
            message = await receive()
            received.append(len(message["body"]))
            if not message["more_body"]:
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(sum(received)).encode()})

    size = 4 * 1024 * 1024
    async with app_server(echo_router(), slow_reader) as server:
        reader, writer = await server.connect()
        writer.write(request("PUT", "/big", body=b"x" * size))
        (connection,) = server.front.connections
        assert isinstance(connection, AppHTTPConnection)

        # The app does not read: the server stops reading rather than buffer the body.
        await until(lambda: not connection._reading)
        cycle = connection._cycle
        assert cycle is not None and cycle.buffered < BODY_HIGH_WATER + 512 * 1024
        release.set()
        response = await read_response(reader)
        assert response.body == str(size).encode()
        assert len(received) > 1  # in pieces, as they came


async def test_chunked_request_body(echo_router: Any) -> None:
    async with app_server(echo_router(), echo_app) as server:
        reader, writer = await server.connect()
        writer.write(request("POST", "/c", "Transfer-Encoding: chunked") + b"5\r\nhello\r\n")
        writer.write(b"6\r\n world\r\n0\r\n\r\n")
        seen = json.loads((await read_response(reader)).body)
        assert sum(seen["sizes"]) == 11


async def test_a_streamed_response_arrives_piece_by_piece(echo_router: Any) -> None:
    step = asyncio.Event()

    async def events(scope: Scope, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"text/event-stream")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"data: one\n\n", "more_body": True})
        await step.wait()  # the client has the first event before the second is made
        await send({"type": "http.response.body", "body": b"data: two\n\n", "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    async with app_server(echo_router(), events) as server:
        reader, writer = await server.connect()
        writer.write(request("GET", "/events"))
        status, headers = await within(read_head(reader))
        assert (status, headers["transfer-encoding"]) == (200, "chunked")
        assert await within(read_chunk(reader)) == b"data: one\n\n"
        step.set()
        assert await within(read_chunk(reader)) == b"data: two\n\n"
        assert await within(read_chunk(reader)) == b""
        # kept alive: the next request on the same connection
        writer.write(request("GET", "/events"))
        step.set()
        assert (await read_response(reader)).chunks == [b"data: one\n\n", b"data: two\n\n"]


async def test_http_disconnect_reaches_the_app(echo_router: Any) -> None:
    gone: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    began = asyncio.Event()

    async def waits(scope: Scope, receive: Any, send: Any) -> None:
        await receive()  # the (empty) body
        began.set()
        gone.set_result((await receive())["type"])

    async with app_server(echo_router(), waits) as server:
        _, writer = await server.connect()
        writer.write(request("GET", "/wait"))
        await within(began.wait())
        writer.close()
        assert await within(gone, 5) == "http.disconnect"


async def test_expect_100_continue(echo_router: Any) -> None:
    async with app_server(echo_router(), echo_app) as server:
        reader, writer = await server.connect()
        head = request("POST", "/c", "Expect: 100-continue", "Content-Length: 4")
        writer.write(head)
        status, _ = await within(read_head(reader))
        assert status == 100
        writer.write(b"body")
        seen = json.loads((await read_response(reader)).body)
        assert seen["sizes"] == [4]


async def test_head_sends_no_body(echo_router: Any) -> None:
    async def page(scope: Scope, receive: Any, send: Any) -> None:
        headers = [(b"content-length", b"5")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send(
            {"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else b"hello"}
        )

    async with app_server(echo_router(), page) as server:
        reader, writer = await server.connect()
        writer.write(request("HEAD", "/") + request("GET", "/"))
        head = await read_response(reader, head_request=True)
        assert (head.status, head.headers["content-length"]) == (200, "5")
        assert (await read_response(reader)).body == b"hello"


async def test_pipelined_app_requests_are_answered_in_order(echo_router: Any) -> None:
    async def delayed(scope: Scope, receive: Any, send: Any) -> None:
        await receive()
        delay = float(scope["query_string"].decode() or 0)
        await asyncio.sleep(delay)  # the first answer is ready last
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["path"].encode()})

    async with app_server(echo_router(), delayed) as server:
        reader, writer = await server.connect()
        writer.write(
            request("GET", "/1?0.2") + get(polling()) + request("GET", "/2") + request("GET", "/3")
        )
        assert (await read_response(reader)).body == b"/1"
        assert (await read_response(reader)).body.startswith(b"0{")
        assert (await read_response(reader)).body == b"/2"
        assert (await read_response(reader)).body == b"/3"


async def test_an_http_1_0_stream_is_delimited_by_the_close(echo_router: Any) -> None:
    async def stream(scope: Scope, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await send({"type": "http.response.body", "body": b"b"})

    async with app_server(echo_router(), stream) as server:
        reader, writer = await server.connect()
        writer.write(b"GET / HTTP/1.0\r\n\r\n")
        response = await read_response(reader)
        assert (response.headers["connection"], response.body) == ("close", b"ab")
        assert "transfer-encoding" not in response.headers


@pytest.mark.parametrize("when", ["before", "after", "never"])
async def test_app_failures(echo_router: Any, when: str, caplog: Any) -> None:
    async def broken(scope: Scope, receive: Any, send: Any) -> None:
        if when == "before":
            raise ValueError("broken app")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        if when == "after":
            await send({"type": "http.response.body", "body": b"part", "more_body": True})
            raise ValueError("broken app")

    async with app_server(echo_router(), broken, access_log=False) as server:
        reader, writer = await server.connect()
        writer.write(request("GET", "/"))
        if when != "after":  # nothing was on the wire yet: a clean 500
            response = await read_response(reader)
            assert (response.status, response.body) == (500, b"Internal Server Error")
            assert ("broken app" if when == "before" else "without completing") in caplog.text
        else:
            status, _ = await within(read_head(reader))
            assert status == 200
            assert await within(read_chunk(reader)) == b"part"
            # cut short: the connection ends without the last chunk
            assert await within(reader.read(), 5) == b""


async def test_limits_hold_for_app_requests(echo_router: Any) -> None:
    limits = Limits(body_timeout=0.3, header_timeout=5.0)
    async with app_server(echo_router(), echo_app, limits=limits, max_body=1000) as server:
        reader, writer = await server.connect()
        writer.write(request("GET", "/", "X-Big: " + "b" * 9000))
        assert (await read_response(reader)).status == 431
        reader, writer = await server.connect()
        writer.write(request("POST", "/", body=b"x" * 1001))
        assert (await read_response(reader)).status == 413
        reader, writer = await server.connect()
        writer.write(request("POST", "/", "Content-Length: 10"))
        writer.write(b"12345")  # and then nothing: a slow client
        assert (await read_response(reader)).status == 408


async def test_a_pipelining_flood_is_not_read(echo_router: Any) -> None:
    release = asyncio.Event()

    async def stuck(scope: Scope, receive: Any, send: Any) -> None:
        await release.wait()
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body"})

    async with app_server(echo_router(), stuck) as server:
        # Some pipelined requests are answered in order, after the slow first one.
        reader, writer = await server.connect()
        writer.write(request("GET", "/") * 40)
        (connection,) = server.front.connections

        await until(lambda: not connection._reading)
        release.set()
        for _ in range(40):
            assert (await read_response(reader)).status == 204
        # Thousands in one chunk: refused, not queued.
        release.clear()
        reader, writer = await server.connect()
        writer.write(request("GET", "/") * 3000)
        assert (await read_response(reader)).status == 503
        assert await within(reader.read(), 5) == b""
        assert all(len(c._queue) <= MAX_PIPELINED for c in server.front.connections)


async def test_concurrency_limit(echo_router: Any) -> None:
    release = asyncio.Event()
    began = asyncio.Event()

    async def stuck(scope: Scope, receive: Any, send: Any) -> None:
        began.set()
        await release.wait()
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body"})

    async with app_server(echo_router(), stuck, limit_concurrency=1) as server:
        first, writer = await server.connect()
        writer.write(request("GET", "/"))
        await within(began.wait())
        second, writer = await server.connect()
        writer.write(request("GET", "/"))
        assert (await read_response(second)).status == 503
        release.set()
        assert (await read_response(first)).status == 204


async def test_proxy_headers(echo_router: Any) -> None:
    headers = ("X-Forwarded-For: 203.0.113.7, 127.0.0.1", "X-Forwarded-Proto: https")
    async with app_server(echo_router(), echo_app, forwarded_allow_ips="127.0.0.1") as server:
        reader, writer = await server.connect()
        writer.write(request("GET", "/", *headers))
        seen = json.loads((await read_response(reader)).body)
        assert (seen["client"], seen["scheme"]) == (["203.0.113.7", 0], "https")
    async with app_server(echo_router(), echo_app, forwarded_allow_ips="10.0.0.0/8") as server:
        reader, writer = await server.connect()
        writer.write(request("GET", "/", *headers))
        seen = json.loads((await read_response(reader)).body)
        assert (seen["client"][0], seen["scheme"]) == ("127.0.0.1", "http")


async def test_a_client_that_does_not_read_stalls_the_apps_send(echo_router: Any) -> None:
    sent = 0
    ended: asyncio.Future[BaseException] = asyncio.get_running_loop().create_future()

    async def firehose(scope: Scope, receive: Any, send: Any) -> None:
        nonlocal sent
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            while True:
                await send({"type": "http.response.body", "body": b"x" * 65536, "more_body": True})
                sent += 1
        except OSError as exc:  # the client went away (ASGI 2.4: a subclass of OSError)
            ended.set_result(exc)

    async with app_server(echo_router(), firehose) as server:
        _, writer = await server.connect()
        writer.write(request("GET", "/"))
        (connection,) = server.front.connections
        await until(lambda: connection._current is not None and connection._current._drain)
        stalled = sent
        for _ in range(20):
            await asyncio.sleep(0)  # the loop turns; nothing is read, nothing more is sent
        assert sent == stalled and sent < 1000  # bounded by the socket buffers, not by memory
        writer.transport.abort()
        assert isinstance(await within(ended, 5), OSError)


async def test_an_http_1_0_keep_alive_client_is_told_so(echo_router: Any) -> None:
    async with app_server(echo_router(), echo_app) as server:
        reader, writer = await server.connect()
        for _ in range(2):  # the same connection twice
            writer.write(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            response = await read_response(reader)
            assert response.headers["connection"] == "keep-alive"
            assert json.loads(response.body)["http_version"] == "1.0"


async def test_a_request_is_routed_by_its_whole_url_however_it_comes(echo_router: Any) -> None:
    # Routed from the URL alone, before the headers: each piece of it httptools reports
    # (one per read that ends inside it) decides again, so the last one decides.
    async with app_server(echo_router(), echo_app) as server:
        for first, rest, engine in (
            ("GET /socket.i", "o/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n", True),
            ("GET /socket.io/", "x?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n", False),
        ):
            reader, writer = await server.connect()
            writer.write(first.encode())
            await until(lambda: len(server.front.connections) == 1)
            (connection,) = server.front.connections
            assert isinstance(connection, AppHTTPConnection)
            await until(lambda: connection._url == first[4:].encode())  # noqa: B023
            kept = connection._raw
            assert kept == []  # so far, a request that may be the app's: headers are kept
            writer.write(rest.encode())
            response = await read_response(reader)
            if engine:  # answered by the engine, its headers never kept for a scope
                assert response.body.startswith(b"0{") and b'"sid"' in response.body
                assert kept == [] and connection._raw is None
            else:
                assert json.loads(response.body)["headers"] == [["host", "x"]]
            writer.close()
            await until(lambda: not server.front.connections)
