"""The official socket.io-client in headless Chromium over WebTransport to our server.

The certificate is self-signed (ECDSA P-256, 10 days) and passed to the browser by
``serverCertificateHashes``; the page is served by our server at 127.0.0.1 (a secure
context). webtransport.mjs beside this file drives the browser.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import aiosio
from aiosio.serve.webtransport import self_signed_certificate
from tests.support.ports import free_port

HERE = Path(__file__).parent
CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
BUNDLE = HERE.parent / "interop" / "node_modules" / "socket.io-client" / "dist"


@pytest.fixture
def browser_ready() -> None:
    missing = [
        name
        for name, ok in (
            (str(CHROMIUM), CHROMIUM.exists()),
            ("node", shutil.which("node") is not None),
            ("playwright-core", (HERE / "node_modules" / "playwright-core").is_dir()),
            ("socket.io-client", BUNDLE.is_dir()),
        )
        if not ok
    ]
    if missing:
        message = "browser tests need: " + ", ".join(missing) + " (make env)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


async def _server(tmp_path: Path, *, udp_elsewhere: bool) -> tuple[aiosio.Server, int, str]:
    cert, key, digest = self_signed_certificate()
    (tmp_path / "cert.pem").write_bytes(cert)
    (tmp_path / "key.pem").write_bytes(key)
    io = aiosio.Server()

    @io.on("connection")
    def connection(socket: aiosio.Socket) -> None:
        socket.on("echo", lambda *args: args)
        socket.on("emit-back", lambda event, *args: socket.emit(event, *args))

    options: dict[str, Any] = {
        "certfile": str(tmp_path / "cert.pem"),
        "keyfile": str(tmp_path / "key.pem"),
    }
    if udp_elsewhere:  # the browser looks on the TCP port's number: refused there
        options["port"] = free_port()
    port = await io.start("127.0.0.1", free_port(), webtransport=options)
    return io, port, digest.hex()


async def _browser(port: int, digest: str, transports: list[str]) -> Any:
    process = await asyncio.create_subprocess_exec(
        "node",
        str(HERE / "webtransport.mjs"),
        str(port),
        digest,
        json.dumps(transports),
        cwd=HERE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(60):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()
    return json.loads(out.decode().strip().splitlines()[-1])


@pytest.fixture
async def served(tmp_path: Path, browser_ready: None) -> AsyncIterator[tuple[int, str]]:
    io, port, digest = await _server(tmp_path, udp_elsewhere=False)
    try:
        yield port, digest
    finally:
        await io.close()


@pytest.mark.parametrize("transports", [["webtransport"], ["polling", "webtransport"]])
async def test_official_client_over_webtransport(
    served: tuple[int, str], transports: list[str]
) -> None:
    result = await _browser(*served, transports)
    assert result == {
        "transport": "webtransport",
        "echoed": "héllo",
        "event": {"ok": True},
    }


async def test_falls_back_to_websocket_when_http3_is_refused(
    tmp_path: Path, browser_ready: None
) -> None:
    io, port, digest = await _server(tmp_path, udp_elsewhere=True)
    try:
        result = await _browser(port, digest, ["polling", "websocket", "webtransport"])
    finally:
        await io.close()
    assert result["transport"] == "websocket"
    assert result["echoed"] == "héllo"
