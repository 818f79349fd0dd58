"""The client's options (aiosio.client.client_options), and the transport options against
the official Node server (socket.io 4.8.1).

``extra_headers`` on every request of both transports, the cookie jar
(``with_credentials``) through a sticky balancer, permessage-deflate on the wire, HTTP
proxies (polling forwarded, WebSocket tunnelled), ``remember_upgrade`` and
``try_all_transports``. The servers are tests/client/options_server.js processes; the
balancer and the proxy are tests/support/middlemen.py, all on real sockets.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import griffe
import pytest

from aiosio.client import Client, ClientOptions, ManagerOptions
from aiosio.client import engine as client_engine
from aiosio.client.client_options import SOCKET_KEYS
from aiosio.exceptions import ConnectionError
from tests.client.client_support import NODE, NODE_MODULES
from tests.support.middlemen import ConnectProxy, StickyBalancer
from tests.support.waits import within

SCRIPT = Path(__file__).with_name("options_server.js")

needs_node = pytest.mark.skipif(
    NODE is None or not (NODE_MODULES / "socket.io").is_dir(),
    reason="node or tests/interop/node_modules is missing (make env)",
)


def test_the_client_passes_on_to_the_manager_every_option_but_its_own() -> None:
    # Client() splits its options by SOCKET_KEYS: an option of ClientOptions left out of
    # it would reach the manager, which does not know it.
    own = set(ClientOptions.__annotations__) - set(ManagerOptions.__annotations__)
    assert own == SOCKET_KEYS
    assert set(ManagerOptions.__annotations__) <= set(ClientOptions.__annotations__)


@pytest.mark.parametrize("options", [ManagerOptions, ClientOptions])
def test_every_option_is_documented_in_the_reference(options: type) -> None:
    sections = griffe.parse_google(griffe.Docstring(inspect.cleandoc(options.__doc__ or "")))
    documented = {
        item.name
        for section in sections
        if section.kind.value == "attributes"
        for item in section.value
    }
    own = set(options.__annotations__)
    if options is ClientOptions:
        own -= set(ManagerOptions.__annotations__)  # documented on ManagerOptions
    assert documented == own


@asynccontextmanager
async def node_server(**options: Any) -> AsyncIterator[int]:
    """An options_server.js process; yields its port, killed at the end."""
    assert NODE is not None
    process = await asyncio.create_subprocess_exec(
        NODE,
        str(SCRIPT),
        json.dumps(options),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(20):
            line = await process.stdout.readline()
        assert line, "the Node server exited before listening"
        yield int(json.loads(line)["port"])
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


@asynccontextmanager
async def connected(url: str, **options: Any) -> AsyncIterator[Client]:
    options.setdefault("reconnection", False)
    client = Client(url, force_new=True, **options)
    await client.connect()
    try:
        yield client
    finally:
        await client.disconnect()


async def call(client: Client, event: str, *args: Any) -> Any:
    return await client.timeout(5).emit_with_ack(event, *args)


async def upgraded(client: Client) -> None:
    """Wait until the connection runs on WebSocket."""
    upgraded = asyncio.Event()
    client.io.on("upgrade", lambda _name: upgraded.set())
    engine = client.io.engine
    if engine is None or engine.transport != "websocket":
        await within(upgraded.wait(), 10)


@needs_node
async def test_extra_headers_reach_the_server_on_polling_and_websocket() -> None:
    async with node_server() as port:
        url = f"http://127.0.0.1:{port}"
        async with connected(url, extra_headers={"X-Test": "hello"}) as client:
            await upgraded(client)
            seen = await call(client, "seen")
    transports = {entry["transport"] for entry in seen}
    assert transports == {"polling", "websocket"}
    assert all(entry["header"] == "hello" for entry in seen)


@needs_node
async def test_cookies_keep_a_polling_client_on_one_backend() -> None:
    async with AsyncExitStack() as stack:
        ports = [
            await stack.enter_async_context(node_server(name=name, cookie=True))
            for name in ("A", "B")
        ]
        balancer = await stack.enter_async_context(StickyBalancer(ports))
        # Without a jar the second request lands on the other backend, which does not
        # know the session: the official server refuses it.
        plain = Client(balancer.url, force_new=True, transports=["polling"], reconnection=False)
        lost: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        plain.io.on("close", lambda reason, _error: lost.done() or lost.set_result(reason))
        attempt = asyncio.ensure_future(plain.connect())
        assert await within(lost, 10) == "transport error"
        attempt.cancel()
        await plain.disconnect()
        async with connected(balancer.url, transports=["polling"], with_credentials=True) as client:
            sid = client.io.engine.sid if client.io.engine else None
            first = await call(client, "whoami")
            for _ in range(3):
                assert await call(client, "whoami") == first
            seen = await call(client, "seen")
    backend = "AB".index(first)
    assert balancer.routed[-1] == backend
    cookies = [entry["cookie"] for entry in seen if entry["cookie"]]
    assert cookies and all(f"sticky={backend}" in cookie for cookie in cookies)
    assert any(f"io={sid}" in cookie for cookie in cookies)  # the server's own cookie


@needs_node
async def test_websocket_cookies_and_upgrade_through_the_balancer() -> None:
    async with AsyncExitStack() as stack:
        ports = [await stack.enter_async_context(node_server(name=n)) for n in ("A", "B")]
        balancer = await stack.enter_async_context(StickyBalancer(ports))
        async with connected(balancer.url, with_credentials=True) as client:
            await upgraded(client)
            seen = await call(client, "seen")
    upgrade = [entry for entry in seen if entry["transport"] == "websocket"]
    assert upgrade and upgrade[0]["cookie"].startswith("sticky=")


@needs_node
async def test_permessage_deflate_is_negotiated_and_compresses_both_ways() -> None:
    big = "socket.io " * 20_000  # 200 000 characters that compress well
    async with node_server(perMessageDeflate=True) as port, ConnectProxy() as proxy:
        url = f"http://127.0.0.1:{port}"
        async with connected(url, transports=["websocket"], proxy=proxy.url) as client:
            assert await call(client, "deflate") is True
            before = proxy.up[0], proxy.down[0]
            assert await call(client, "echo", big) == big
            sent, received = proxy.up[0] - before[0], proxy.down[0] - before[1]
    assert sent < 10_000 and received < 10_000  # both directions went compressed


@needs_node
async def test_permessage_deflate_off() -> None:
    async with node_server(perMessageDeflate=True) as port:
        url = f"http://127.0.0.1:{port}"
        async with connected(url, transports=["websocket"], per_message_deflate=False) as client:
            assert await call(client, "deflate") is False
            assert await call(client, "echo", "x" * 5000) == "x" * 5000


@needs_node
async def test_proxy_option_for_polling_and_the_websocket_upgrade() -> None:
    async with node_server() as port, ConnectProxy() as proxy:
        url = f"http://127.0.0.1:{port}"
        async with connected(url, proxy=proxy.url) as client:
            await upgraded(client)
            assert await call(client, "echo", 1) == 1
    assert proxy.requests[0].startswith(f"GET http://127.0.0.1:{port}/socket.io/?")
    assert f"CONNECT 127.0.0.1:{port} HTTP/1.1" in proxy.requests


@needs_node
async def test_https_proxy_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    async with node_server() as port, ConnectProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        url = f"ws://127.0.0.1:{port}"
        async with connected(url, transports=["websocket"]) as client:
            assert await call(client, "echo", "via env") == "via env"
    assert proxy.requests == [f"CONNECT 127.0.0.1:{port} HTTP/1.1"]


@needs_node
async def test_remember_upgrade_opens_with_websocket_next_time() -> None:
    async with node_server() as port:
        url = f"http://127.0.0.1:{port}"
        client_engine._prior_websocket.clear()
        async with connected(url, remember_upgrade=True) as client:
            await upgraded(client)
            before = len(await call(client, "seen"))  # no request after the upgrade
        async with connected(url, remember_upgrade=True) as client:
            seen = await call(client, "seen")
            assert client.io.engine is not None and client.io.engine.transport == "websocket"
        async with connected(url) as client:  # the option is off
            assert client.io.engine is not None and client.io.engine.transport == "polling"
    # The second connection made one request: a WebSocket without a sid.
    assert [entry["transport"] for entry in seen[before:]] == ["websocket"]


@needs_node
async def test_try_all_transports_moves_on_when_websocket_fails() -> None:
    async with node_server(transports=["polling"]) as port:  # WebSocket is refused
        url = f"http://127.0.0.1:{port}"
        with pytest.raises(ConnectionError):
            async with connected(url, transports=["websocket", "polling"]):
                pass
        options: dict[str, Any] = {"transports": ["websocket", "polling"]}
        async with connected(url, try_all_transports=True, **options) as client:
            assert await call(client, "transport") == "polling"
