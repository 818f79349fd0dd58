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


async def _server(folder: Path, *, udp_elsewhere: bool) -> tuple[aiosio.Server, int, str]:
    cert, key, digest = self_signed_certificate()
    name = "b" if udp_elsewhere else "a"
    (folder / f"{name}-cert.pem").write_bytes(cert)
    (folder / f"{name}-key.pem").write_bytes(key)
    io = aiosio.Server()

    @io.on("connection")
    def connection(socket: aiosio.Socket) -> None:
        socket.on("echo", lambda *args: args)
        socket.on("emit-back", lambda event, *args: socket.emit(event, *args))

    options: dict[str, Any] = {
        "certfile": str(folder / f"{name}-cert.pem"),
        "keyfile": str(folder / f"{name}-key.pem"),
    }
    if udp_elsewhere:  # the browser looks on the TCP port's number: refused there
        options["port"] = free_port()
    port = await io.start("127.0.0.1", free_port(), webtransport=options)
    return io, port, digest.hex()


async def _browser(cases: list[dict[str, Any]]) -> Any:
    process = await asyncio.create_subprocess_exec(
        "node",
        str(HERE / "webtransport.mjs"),
        json.dumps(cases),
        cwd=HERE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(90):
            out, err = await process.communicate()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()
    return json.loads(out.decode().strip().splitlines()[-1])


async def test_official_client_over_webtransport_and_the_fallback(
    tmp_path: Path, browser_ready: None
) -> None:
    """One browser, three connections: WebTransport alone, the upgrade from polling to
    it, and, with HTTP/3 refused (nothing on the UDP port the browser tries), WebSocket."""
    served, port, digest = await _server(tmp_path, udp_elsewhere=False)
    refused, other_port, other_digest = await _server(tmp_path, udp_elsewhere=True)
    try:
        results = await _browser(
            [
                {"port": port, "hex": digest, "transports": ["webtransport"]},
                {"port": port, "hex": digest, "transports": ["polling", "webtransport"]},
                {
                    "port": other_port,
                    "hex": other_digest,
                    "transports": ["polling", "websocket", "webtransport"],
                },
            ]
        )
    finally:
        await served.close()
        await refused.close()
    expected = {"echoed": "héllo", "event": {"ok": True}}
    assert results == [
        {"transport": "webtransport", **expected},
        {"transport": "webtransport", **expected},
        {"transport": "websocket", **expected},
    ]
