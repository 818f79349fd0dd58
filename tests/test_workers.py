"""Worker processes behind the sticky front of ``aiosio.workers``: routing, the health view,
restarts, the log flags and a quiet stop, all with real processes and a real Redis."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

import socketio
from aiosio.workers import (
    Backoff,
    StickyBalancer,
    WorkerOptions,
    app_arguments,
    make_parser,
    request_sid,
)
from tests.adapters.cluster_support import eventually
from tests.support.cli_process import CLIProcess
from tests.support.ports import free_port
from tests.support.servers import ping_redis

pytestmark = pytest.mark.redis

HERE = Path(__file__).parent / "support"  # workers_app.py
T = TypeVar("T")


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
    balancer.forget(1)  # its worker exited: its sessions are gone
    assert list(balancer.owners) == ["b"]


def test_balancer_skips_unavailable_workers_and_obeys_a_worker_parameter() -> None:
    up = {0: True, 1: False, 2: True}
    backends = [("127.0.0.1", port) for port in (1, 2, 3)]
    balancer = StickyBalancer(backends, available=up.__getitem__)
    assert [balancer.owner(None)[0] for _ in range(4)] == [0, 2, 0, 2]
    assert balancer.route(b"GET /metrics?worker=1 HTTP/1.1\r\n\r\n") == (1, False)
    assert balancer.route(b"GET /metrics?worker=9 HTTP/1.1\r\n\r\n")[0] in (0, 2)


def test_the_workers_get_the_application_options_and_trust_the_front() -> None:
    parser = make_parser()
    args = parser.parse_args(["main:app", "--root-path", "/api", "--no-access-log"])
    extra = app_arguments(args)
    assert extra == (
        "--root-path",
        "/api",
        "--no-access-log",
        "--proxy-headers",
        "--forwarded-allow-ips",
        "127.0.0.1,127.0.0.1",
    )
    worker = parser.parse_args(["main:app", *extra])  # what a worker parses back
    assert (worker.root_path, worker.access_log) == ("/api", False)
    # Where to listen is the front's; the front's verdict on proxies is the worker's.
    args = parser.parse_args(["main:app", "--uds", "/tmp/s", "--no-proxy-headers"])
    assert app_arguments(args)[-3:] == ("--proxy-headers", "--forwarded-allow-ips", "127.0.0.1")
    options = WorkerOptions("main:app", app_args=extra)
    assert options.command(0, 4000)[-len(extra) :] == list(extra)


def test_the_restart_delay_doubles_up_to_its_cap() -> None:
    backoff = Backoff(first=0.5, cap=3.0)
    assert [backoff.delay(failures) for failures in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    assert backoff.delay(10_000) == 3.0


# -- real processes ----------------------------------------------------------------------


@pytest.fixture
def app_env(redis_url: str, key: str) -> dict[str, str]:
    """What ``workers_app`` reads, for the front and (inherited) its workers."""
    assert ping_redis(6379)
    return {"AIOSIO_TEST_REDIS": redis_url, "AIOSIO_TEST_KEY": key}


def _front(args: list[str], env: dict[str, str], log: Path, *, cli: bool = False) -> CLIProcess:
    """The front process: ``aiosio serve ... --workers`` or ``python -m aiosio.workers``."""
    if cli:
        return CLIProcess(["serve", "workers_app:io", *args], cwd=HERE, log=log, env=env)
    module = "aiosio.workers"
    return CLIProcess(["workers_app:io", *args], cwd=HERE, log=log, env=env, module=module)


@pytest.fixture
def front(app_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[CLIProcess, str]]:
    """Two workers behind a front on a port of its own; a worker restarts after 2 s."""
    args = ["--workers", "2", "--port", "0", "--restart-delay", "2"]
    with _front(args, app_env, tmp_path / "front.log") as process:
        url = process.url()
        yield process, url
        assert process.stop() == 0, process.output()


def _health(url: str, query: str = "") -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"{url}/healthz{query}", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _until(check: Callable[[], T | None], what: str, timeout: float = 30) -> T:
    """Poll ``check`` until it returns something (a condition, not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (found := check()) is not None:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_front_reports_every_worker_and_restarts_a_killed_one(
    front: tuple[CLIProcess, str],
) -> None:
    process, url = front
    status, health = _health(url)
    assert status == 200, health
    assert health["status"] == "ok"
    assert [w["state"] for w in health["workers"]] == ["ok", "ok"]
    pids = [w["pid"] for w in health["workers"]]
    assert process.process is not None and process.process.pid not in pids

    os.kill(pids[1], signal.SIGKILL)

    def reported_down() -> dict[str, Any] | None:
        status, health = _health(url)
        return health if status == 503 and health["workers"][1]["state"] != "ok" else None

    health = _until(reported_down, "the killed worker in /healthz")
    assert health["status"] == "unhealthy"
    assert health["workers"][1]["state"] in ("down", "starting")
    assert health["workers"][0]["state"] == "ok"
    assert _health(url, "?worker=0")[0] == 200
    status, one = _health(url, "?worker=1")
    assert status == 503 and one["worker"] == 1, one

    def back() -> dict[str, Any] | None:
        status, health = _health(url)
        return health if status == 200 else None

    health = _until(back, "the restarted worker")
    restarted = health["workers"][1]
    assert restarted["restarts"] == 1 and restarted["pid"] not in pids
    assert f"worker 1 (pid {pids[1]}) exited with -9; starting it again in 2.0 s" in (
        process.output()
    )
    assert _health(url, "?worker=1")[0] == 200
    assert _health(url, "?worker=7")[0] == 404


def test_the_front_reports_a_worker_that_does_not_answer(front: tuple[CLIProcess, str]) -> None:
    _, url = front
    pid = _health(url)[1]["workers"][0]["pid"]
    os.kill(pid, signal.SIGSTOP)  # alive, listening, deaf
    try:
        status, one = _health(url, "?worker=0")
        assert (status, one["state"]) == (503, "unresponsive")
        status, health = _health(url)
        assert status == 503
        assert [w["state"] for w in health["workers"]] == ["unresponsive", "ok"]
    finally:
        os.kill(pid, signal.SIGCONT)
    assert _until(lambda: _health(url)[0] == 200 or None, "the worker answering again")


async def test_long_polling_sessions_stick_to_their_worker(front: tuple[CLIProcess, str]) -> None:
    _, url = front
    clients = []
    news: list[str] = []
    for _ in range(4):
        client = socketio.AsyncClient(reconnection=False)
        client.on("news", news.append)
        await client.connect(url, transports=["polling"])
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


def _records(output: str) -> list[dict[str, Any]]:
    """Every line of ``output`` as a JSON log record (failing on any other line)."""
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def test_the_log_format_reaches_the_workers(app_env: dict[str, str], tmp_path: Path) -> None:
    args = ["--workers", "2", "--port", "0", "--log-format", "json"]
    with _front(args, app_env, tmp_path / "front.log", cli=True) as process:
        process.wait_for("subscribed to Redis", count=2)
        process.url()
        assert process.stop() == 0
    records = _records(process.output())
    listening = [r for r in records if "listening on 127.0.0.1" in r["message"]]
    assert sorted(r["message"].split()[1] for r in listening) == ["0", "1"]
    assert all(r["level"] == "info" and r["logger"] == "aiosio.workers" for r in listening)
    assert sum("subscribed to Redis" in r["message"] for r in records) == 2


def test_the_log_level_reaches_the_workers(app_env: dict[str, str], tmp_path: Path) -> None:
    port = free_port()
    args = ["--workers", "2", "--port", str(port), "--log-level", "warning"]
    with _front(args, app_env, tmp_path / "front.log", cli=True) as process:
        url = f"http://127.0.0.1:{port}"

        def healthy() -> bool | None:
            try:
                return _health(url)[0] == 200 or None
            except OSError:  # not listening yet
                return None

        _until(healthy, "the workers")
        pid = _health(url)[1]["workers"][0]["pid"]
        os.kill(pid, signal.SIGKILL)  # the front logs this at WARNING
        process.wait_for("starting it again")
        assert process.stop() == 0
    lines = process.output().splitlines()
    assert [line for line in lines if " WARNING " in line], lines
    assert not [line for line in lines if "INFO" in line], lines  # no worker logs at INFO


async def test_a_stop_with_clients_connected_is_clean(
    app_env: dict[str, str], tmp_path: Path
) -> None:
    args = ["--workers", "2", "--port", "0"]
    with _front(args, app_env, tmp_path / "front.log", cli=True) as process:
        url = await asyncio.to_thread(process.url)
        reasons: list[str] = []
        clients = []
        for transport in ("websocket", "polling", "websocket", "polling"):
            client = socketio.AsyncClient(reconnection=False)
            client.on("disconnect", reasons.append)
            await client.connect(url, transports=[transport])
            await client.call("whoami", timeout=5)
            clients.append(client)
        try:
            assert process.process is not None
            process.process.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(process.wait) == 0, process.output()
            await eventually(lambda: len(reasons) == 4, timeout=15)
        finally:
            for client in clients:
                await client.disconnect()
    output = process.output()
    assert "Traceback" not in output and "CancelledError" not in output, output
    assert output.count("closing 2 connection(s)") == 2, output
    assert output.rstrip().endswith("stopped")
