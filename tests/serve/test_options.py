"""aiosio.serve.options: each uvicorn-named option of ``aiosio serve``, parsed as the
command line parses it and shown to take effect on a server run in process (real
sockets, httpx; a Unix socket; TLS with a certificate made for the test)."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import ssl
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

import aiosio
from aiosio.cli import make_parser
from aiosio.serve.options import app_settings, listen_of
from aiosio.serve.run import run_server
from tests.serve.app_support import read_response
from tests.support.waits import within

Scope = dict[str, Any]


async def scope_app(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        await receive()
        scope["state"]["lifespan"] = "ran"
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})
        return
    while (await receive()).get("more_body"):
        pass
    seen = {key: scope[key] for key in ("root_path", "path", "client", "scheme", "state")}
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": json.dumps(seen).encode()})


@asynccontextmanager
async def serving(*argv: str, app: Any = scope_app) -> AsyncIterator[tuple[str, aiosio.Server]]:
    args = make_parser().parse_args(["serve", "anything:app", "--port", "0", *argv])
    io = aiosio.Server(serve_client=False)
    front, lifespan = app_settings(io, app, "", args)
    urls: asyncio.Queue[str] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    task = asyncio.create_task(
        run_server(io, listen_of(args), front=front, lifespan=lifespan, ready=urls.put_nowait)
    )
    try:
        yield await within(urls.get(), 10), io
    finally:
        await io.close()
        await within(task, 10)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def get_json(url: str, path: str = "/", **options: Any) -> Any:
    async with httpx.AsyncClient(**options) as client:
        response = await client.get(url + path)
        return response.status_code, response.json() if response.status_code == 200 else None


async def test_root_path_and_lifespan_on_and_off() -> None:
    async with serving("--root-path", "/api/", "--lifespan", "on") as (url, _):
        _, seen = await get_json(url, "/items")
        assert (seen["root_path"], seen["path"]) == ("/api", "/api/items")
        assert seen["state"] == {"lifespan": "ran"}
    async with serving("--lifespan", "off") as (url, _):
        _, seen = await get_json(url)
        assert (seen["root_path"], seen["state"]) == ("", {})


async def test_proxy_headers_and_forwarded_allow_ips() -> None:
    headers = {"X-Forwarded-For": "198.51.100.4", "X-Forwarded-Proto": "https"}
    async with serving() as (url, _):  # 127.0.0.1 is trusted by default
        _, seen = await get_json(url, headers=headers)
        assert (seen["client"][0], seen["scheme"]) == ("198.51.100.4", "https")
    async with serving("--forwarded-allow-ips", "192.0.2.0/24") as (url, _):
        _, seen = await get_json(url, headers=headers)
        assert (seen["client"][0], seen["scheme"]) == ("127.0.0.1", "http")
    async with serving("--no-proxy-headers", "--forwarded-allow-ips", "*") as (url, _):
        _, seen = await get_json(url, headers=headers)
        assert seen["client"][0] == "127.0.0.1"


async def test_uds(tmp_path: Path) -> None:
    path = str(tmp_path / "aiosio.sock")
    async with serving("--uds", path) as (url, _):
        assert url == f"unix:{path}"
        transport = httpx.AsyncHTTPTransport(uds=path)
        async with httpx.AsyncClient(transport=transport) as client:
            assert (await client.get("http://local/x")).json()["path"] == "/x"
            polled = await client.get("http://local/socket.io/?EIO=4&transport=polling")
            assert polled.text.startswith("0{")


async def test_timeout_keep_alive() -> None:
    async with serving("--timeout-keep-alive", "0.2") as (url, _):
        port = int(url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await read_response(reader)).status == 200
        # Idle after its answer: closed by the server at the keep-alive timeout.
        assert await within(reader.read(), 5) == b""
        writer.close()
        await writer.wait_closed()


async def test_limit_concurrency_and_limit_max_body() -> None:
    release = asyncio.Event()
    began = asyncio.Event()

    async def slow(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return
        began.set()
        await release.wait()
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body"})

    options = ("--limit-concurrency", "1", "--limit-max-body", "8")
    async with serving(*options, app=slow) as (url, _):
        first, second = httpx.AsyncClient(base_url=url), httpx.AsyncClient(base_url=url)
        async with first, second:
            pending = asyncio.create_task(first.get("/"))
            await within(began.wait())
            assert (await second.get("/")).status_code == 503
            release.set()
            assert (await pending).status_code == 204
            assert (await second.post("/", content=b"123456789")).status_code == 413


async def test_access_log_on_and_off(caplog: Any) -> None:
    caplog.set_level(logging.INFO, "aiosio.access")
    async with serving() as (url, _):
        await get_json(url, "/logged")
    assert '"GET /logged HTTP/1.1" 200' in caplog.text
    async with serving("--no-access-log") as (url, _):
        await get_json(url, "/quiet")
    assert "/quiet" not in caplog.text


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: Any) -> tuple[str, str]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = str(folder / "cert.pem"), str(folder / "key.pem")
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", key, "-out", cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


async def test_ssl_certfile_and_keyfile(certificate: tuple[str, str]) -> None:
    cert, key = certificate
    async with serving("--ssl-certfile", cert, "--ssl-keyfile", key) as (url, _):
        assert url.startswith("https://")
        trust = ssl.create_default_context(cafile=cert)
        status, seen = await get_json(url, "/secure", verify=trust)
        assert (status, seen["scheme"]) == (200, "https")


def test_serve_help_lists_uvicorns_option_names(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        make_parser().parse_args(["serve", "--help"])
    text = capsys.readouterr().out
    for option in (
        "--host",
        "--port",
        "--uds",
        "--root-path",
        "--proxy-headers",
        "--forwarded-allow-ips",
        "--timeout-keep-alive",
        "--limit-concurrency",
        "--ssl-keyfile",
        "--ssl-certfile",
        "--access-log",
        "--no-access-log",
        "--workers",
        "--reload",
        "--lifespan",
    ):
        assert option in text, option
