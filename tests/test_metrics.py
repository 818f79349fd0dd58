"""The Prometheus page: its format, and counters that move with real traffic."""

from __future__ import annotations

import asyncio
import re

import aiohttp
import pytest

from aiosio import Server, Socket, metrics
from tests.support.recorders import RecordingClient as Recorder
from tests.support.servers import running

SAMPLE = re.compile(r'^[a-z_]+(\{[a-z_]+="(?:[^"\\]|\\.)*"\})? \d+(\.\d+)?$')


def value(page: str, sample: str) -> float:
    for line in page.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{sample} not in the page:\n{page}")


async def scrape(url: str, method: str = "GET") -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as session, session.request(method, url) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.text()


async def test_the_page_follows_the_text_format_and_counts_traffic() -> None:
    io = Server(serve_client=False)
    gone = asyncio.Event()

    @io.on("connection")
    def connection(socket: Socket) -> None:
        socket.join("lobby")
        socket.on("echo", lambda text: text)
        socket.on("disconnect", lambda reason: gone.set())

    metrics.enable(io)
    async with running(io) as url:
        user = Recorder()
        await user.connect(url)
        assert await user.call("echo", "hello") == "hello"
        status, kind, page = await scrape(url + "/metrics")
        assert status == 200
        assert kind == metrics.CONTENT_TYPE
        for line in page.splitlines():
            assert line.startswith("# ") or SAMPLE.match(line), line
        assert value(page, 'aiosio_connected_sockets{namespace="/"}') == 1
        assert value(page, 'aiosio_rooms{namespace="/"}') == 1
        assert value(page, 'aiosio_engine_sessions{transport="websocket"}') == 1
        assert value(page, "aiosio_engine_sessions_opened_total") == 1
        assert value(page, "aiosio_packets_received_total") >= 2  # CONNECT and the event
        assert value(page, "aiosio_packets_sent_total") >= 2
        assert value(page, "aiosio_bytes_received_total") > 100
        assert value(page, "aiosio_bytes_sent_total") > 100

        await user.close()
        async with asyncio.timeout(5):
            await gone.wait()
        _, _, page = await scrape(url + "/metrics")
        assert value(page, 'aiosio_connected_sockets{namespace="/"}') == 0
        assert value(page, 'aiosio_rooms{namespace="/"}') == 0
        assert "aiosio_engine_sessions_closed_total{reason=" in page

        status, _, body = await scrape(url + "/metrics", "HEAD")
        assert (status, body) == (200, "")
        assert (await scrape(url + "/metrics", "POST"))[0] == 405


async def test_polling_sessions_and_odd_namespace_names() -> None:
    io = Server(serve_client=False)
    io.of('/we"ird\\name')
    metrics.enable(io, "/internal/metrics")
    async with running(io) as url:
        user = Recorder()
        await user.connect(url, transport="polling")
        page = metrics.render(io)
        assert 'aiosio_connected_sockets{namespace="/we\\"ird\\\\name"} 0' in page
        assert value(page, 'aiosio_engine_sessions{transport="polling"}') == 1
        assert (await scrape(url + "/internal/metrics"))[0] == 200
        await user.close()


@pytest.mark.parametrize("path", ["metrics", "/socket.io/", "/socket.io/metrics", "/socket.io"])
def test_the_path_must_be_outside_the_socketio_path(path: str) -> None:
    with pytest.raises(ValueError, match="cannot serve metrics"):
        metrics.enable(Server(), path)
