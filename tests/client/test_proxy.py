"""Proxies: the URL and environment rules, and tunnels through a real CONNECT proxy.

The client's own use of a proxy against the official server (polling forwarded,
WebSocket tunnelled) is in tests/client/test_client_options.py.
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

import pytest

import aiosio
from aiosio.client import Client
from aiosio.client.http import Address, HTTPConnection, open_websocket
from aiosio.client.proxy import Proxy, check_connect, connect_request, proxy_for
from aiosio.exceptions import ConnectionError
from aiosio.serve.webtransport import self_signed_certificate
from tests.support.middlemen import ConnectProxy
from tests.support.servers import running
from tests.support.waits import within


def test_proxy_urls() -> None:
    assert Proxy.from_url("http://proxy:3128") == Proxy("proxy", 3128)
    assert Proxy.from_url("proxy.example") == Proxy("proxy.example", 80)
    auth = Proxy.from_url("http://us%40er:p%3Ass@h:1").authorization
    assert auth == "Basic dXNAZXI6cDpzcw=="  # base64 of "us@er:p:ss"
    with pytest.raises(ValueError, match="http:// proxy"):
        Proxy.from_url("socks5://h:1")


def test_option_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert proxy_for("https", "example.com", None) is None
    monkeypatch.setenv("HTTPS_PROXY", "http://secure:3128")
    monkeypatch.setenv("HTTP_PROXY", "http://plain:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    assert proxy_for("wss", "example.com", None) == Proxy("secure", 3128)
    assert proxy_for("ws", "example.com", None) == Proxy("plain", 3128)
    assert proxy_for("https", "internal.example", None) is None
    assert proxy_for("https", "example.com", "") is None  # the option wins: no proxy
    assert proxy_for("https", "example.com", "http://mine:1") == Proxy("mine", 1)


def test_connect_request_and_refusal() -> None:
    request = connect_request(Proxy("p", 1, "Basic eA=="), "::1", 443)
    assert request == (
        b"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\nProxy-Authorization: Basic eA==\r\n\r\n"
    )
    check_connect(200)
    with pytest.raises(ConnectionError, match="407"):
        check_connect(407)


async def test_polling_is_forwarded_and_websocket_tunnelled() -> None:
    async with running(aiosio.Server()) as url, ConnectProxy() as proxy:
        port = int(url.rsplit(":", 1)[1])
        address = Address("127.0.0.1", port, proxy=Proxy("127.0.0.1", proxy.port, "Basic eA=="))
        http = HTTPConnection(address)
        response = await http.request("GET", "/socket.io/?EIO=4&transport=polling")
        http.close()
        assert response.status == 200 and response.body.startswith(b"0{")
        reader, writer, deflate = await open_websocket(
            address, "/socket.io/?EIO=4&transport=websocket", []
        )
        assert deflate is None
        assert (await reader.read(2))[:1] == b"\x81"  # the OPEN packet's text frame
        writer.close()
    assert proxy.requests[0].startswith(
        f"GET http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling "
    )
    assert proxy.requests[1] == f"CONNECT 127.0.0.1:{port} HTTP/1.1"
    assert proxy.authorizations == ["Basic eA==", "Basic eA=="]


async def test_a_proxy_that_refuses_the_tunnel() -> None:
    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(refuse, "127.0.0.1", 0)
    try:
        port = server.sockets[0].getsockname()[1]
        address = Address("127.0.0.1", 9, proxy=Proxy("127.0.0.1", port))
        with pytest.raises(ConnectionError, match="407"):
            await open_websocket(address, "/socket.io/?EIO=4&transport=websocket", [])
    finally:
        server.close()
        await server.wait_closed()


async def test_tls_goes_through_a_tunnel(tmp_path: Path) -> None:
    cert, key, _digest = self_signed_certificate(("127.0.0.1",))
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    client_context = ssl.create_default_context(cadata=cert.decode())
    io = aiosio.Server()
    io.on("connection", lambda socket: socket.on("echo", lambda data: data))
    port = await io.start("127.0.0.1", 0, ssl=server_context)
    try:
        async with ConnectProxy() as proxy:
            client = Client(
                f"https://127.0.0.1:{port}",
                force_new=True,
                reconnection=False,
                ssl=client_context,
                proxy=proxy.url,
            )
            upgraded = asyncio.Event()
            client.io.on("upgrade", lambda _name: upgraded.set())
            await client.connect()
            try:
                await within(upgraded.wait(), 5)
                assert await client.timeout(5).emit_with_ack("echo", "secret") == "secret"
            finally:
                await client.disconnect()
    finally:
        await io.close()
    # Polling and the WebSocket both went through CONNECT tunnels (TLS end to end).
    assert proxy.requests and all(
        line == f"CONNECT 127.0.0.1:{port} HTTP/1.1" for line in proxy.requests
    )
