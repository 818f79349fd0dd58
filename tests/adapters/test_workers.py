"""Two worker processes behind the sticky front of ``aiosio.workers``, long-polling."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster_support import eventually, free_port, ping

import socketio
from aiosio.workers import StickyBalancer, request_sid

pytestmark = pytest.mark.redis


def test_request_sid_reads_the_query_and_the_cookie() -> None:
    head = b"GET /socket.io/?EIO=4&transport=polling&sid=abc HTTP/1.1\r\nHost: x\r\n\r\n"
    assert request_sid(head) == "abc"
    head = b"GET /socket.io/?EIO=4 HTTP/1.1\r\nCookie: a=1; io=xyz\r\n\r\n"
    assert request_sid(head) == "xyz"
    assert request_sid(b"GET / HTTP/1.1\r\n\r\n") is None


def test_balancer_remembers_a_bounded_number_of_sessions() -> None:
    balancer = StickyBalancer([("127.0.0.1", 1), ("127.0.0.1", 2)], max_sessions=2)
    assert balancer.owner(None) == (0, True)
    assert balancer.owner(None) == (1, True)
    for sid, index in (("a", 1), ("b", 0), ("c", 1)):
        balancer.remember(sid, index)
    assert list(balancer.owners) == ["b", "c"]
    assert balancer.owner("c") == (1, False)


@pytest.fixture
def workers(redis_url: str, key: str) -> Iterator[int]:
    port = free_port()
    env = {
        **os.environ,
        "AIOSIO_TEST_REDIS": redis_url,
        "AIOSIO_TEST_KEY": key,
        "PYTHONPATH": os.pathsep.join(
            [str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")]
        ),
    }
    command = [sys.executable, "-m", "aiosio.workers", "workers_app:io", "--workers", "2"]
    front = subprocess.Popen(
        [*command, "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    assert front.stdout is not None
    assert b"workers on" in front.stdout.readline()
    yield port
    front.terminate()
    front.wait(15)
    front.stdout.close()


async def test_long_polling_sessions_stick_to_their_worker(workers: int) -> None:
    assert ping(6379)
    clients = []
    news: list[str] = []
    for _ in range(4):
        client = socketio.AsyncClient(reconnection=False)
        client.on("news", news.append)
        await client.connect(f"http://127.0.0.1:{workers}", transports=["polling"])
        clients.append(client)
    try:
        pids = []
        for client in clients:
            answers = {await client.call("whoami", timeout=5) for _ in range(5)}
            assert len(answers) == 1  # every request of a session reached the same worker
            pids.append(answers.pop())
        assert len(set(pids)) == 2  # and sessions were spread over both workers
        await asyncio.sleep(0.3)
        await clients[0].emit("shout", "hello")
        await eventually(lambda: news == ["hello"] * 4)
    finally:
        for client in clients:
            await client.disconnect()
