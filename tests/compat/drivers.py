"""The two clients that drive the transcript apps, and how the apps are loaded and served.

A transcript script (a list of steps, see ``runTranscript`` in ``tests/interop/sio_driver.js``
for the step kinds) is run by the official socket.io-client (one long-lived Node process,
the driver's ``transcript`` scenario, :class:`NodeDriver`)
and by python-socketio's ``AsyncClient`` (:func:`run_python`). Each returns the log of
what the client saw; :func:`normalised` replaces socket ids, which differ on every run.

:func:`load_app` executes an app file with its ``import socketio`` line kept (python-
socketio) or changed to ``from aiosio import compat as socketio``: nothing else differs.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import re
import shutil
import subprocess
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

import socketio
from tests.support.servers import start_uvicorn

HERE = Path(__file__).parent
APPS = HERE / "apps"
NODE = shutil.which("node")
INTEROP = HERE.parent / "interop"
IMPORT_LINE = "\nimport socketio\n"
COMPAT_LINE = "\nfrom aiosio import compat as socketio\n"
DEADLINE = 30.0  # a hang guard for each step (as the Node driver's), not a measure
SID = re.compile(r"^[A-Za-z0-9_-]{20}$")

Log = list[list[Any]]


def load_app(name: str, flavor: str) -> dict[str, Any]:
    """Run ``apps/<name>.py`` as python-socketio (``"psio"``) or on aiosio.compat."""
    path = APPS / f"{name}.py"
    source = path.read_text()
    assert source.count(IMPORT_LINE) == 1, f"{path} must import socketio once, alone"
    if flavor != "psio":
        source = source.replace(IMPORT_LINE, COMPAT_LINE)
    namespace: dict[str, Any] = {"__name__": f"transcript_{name}_{flavor}", "__file__": str(path)}
    exec(compile(source, str(path), "exec"), namespace)
    return namespace


@asynccontextmanager
async def serving(module: dict[str, Any], front_door: str) -> AsyncIterator[str]:
    """Serve a loaded app under uvicorn (``"asgi"``) or on aiosio's standalone front door
    (``"standalone"``, compat apps only); yields its URL."""
    if front_door == "standalone":
        port = await module["sio"].start("127.0.0.1", 0)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            await module["sio"].shutdown()
        return
    port, stop = await start_uvicorn(module["app"], log_level="error")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await stop()


def encode(value: Any) -> Any:
    """JSON-safe, binary as ``{"$bin": base64}`` (the Node driver's form)."""
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bin": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, list | tuple):
        return [encode(item) for item in value]
    if isinstance(value, dict):
        return {key: encode(item) for key, item in value.items()}
    return value


def decode(value: Any) -> Any:
    if isinstance(value, list):
        return [decode(item) for item in value]
    if isinstance(value, dict):
        if set(value) == {"$bin"}:
            return base64.b64decode(value["$bin"])
        return {key: decode(item) for key, item in value.items()}
    return value


def normalised(log: Log) -> dict[str, Log]:
    """Each client's log (their interleaving is a race between connections), with every
    socket id (20 URL-safe characters) written ``<sid>``."""

    def fix(value: Any) -> Any:
        if isinstance(value, str) and SID.match(value):
            return "<sid>"
        if isinstance(value, list):
            return [fix(item) for item in value]
        if isinstance(value, dict):
            return {fix(key): fix(item) for key, item in value.items()}
        return value

    clients: dict[str, Log] = {}
    for entry in log:
        clients.setdefault(entry[0], []).append(fix(entry[1:]))
    return clients


class NodeDriver:
    """One ``node sio_driver.js transcript`` for the session; jobs run one at a time
    (polling, then the upgrade to WebSocket)."""

    def __init__(self) -> None:
        assert NODE is not None
        self.process = subprocess.Popen(
            [NODE, str(INTEROP / "sio_driver.js"), "transcript", "-", "upgrade"],
            cwd=INTEROP,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lock = threading.Lock()
        self.jobs = 0

    def _run(self, url: str, steps: list[dict[str, Any]]) -> Log:
        assert self.process.stdin is not None and self.process.stdout is not None
        with self.lock:
            self.jobs += 1
            job = {"id": self.jobs, "url": url, "steps": steps}
            self.process.stdin.write(json.dumps(job) + "\n")
            self.process.stdin.flush()
            answer = json.loads(self.process.stdout.readline())
        assert answer.get("ev") == "job" and answer["id"] == job["id"], answer
        assert "error" not in answer, answer["error"]
        log: Log = answer["log"]
        return log

    async def run(self, url: str, steps: list[dict[str, Any]]) -> Log:
        return await asyncio.to_thread(self._run, url, steps)

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


class _PythonClient:
    """One python-socketio AsyncClient of a script, logging what it sees."""

    def __init__(self, name: str, log: Log, changed: Callable[[], None]) -> None:
        self.name = name
        self.log = log
        self.changed = changed
        self.sio = socketio.AsyncClient(reconnection=False)
        self.counts: dict[tuple[str, str], int] = {}
        self.gone: set[str] = set()
        self.errors: dict[str, Any] = {}

    def listen(self, ns: str) -> None:
        def on_any(event: str, *args: Any) -> list[str]:
            self.log.append([self.name, ns, "event", event, encode(list(args))])
            self.counts[ns, event] = self.counts.get((ns, event), 0) + 1
            self.changed()
            return ["ack", event]

        def on_error(data: Any = None) -> None:
            self.errors[ns] = data

        def on_disconnect(reason: str = "") -> None:
            if reason == self.sio.reason.SERVER_DISCONNECT:
                self.gone.add(ns)
                self.log.append([self.name, ns, "disconnect", reason])
                self.changed()

        self.sio.on("*", on_any, namespace=ns)
        self.sio.on("connect_error", on_error, namespace=ns)
        self.sio.on("disconnect", on_disconnect, namespace=ns)


async def run_python(url: str, steps: list[dict[str, Any]]) -> Log:
    """Run a script with python-socketio's AsyncClient (WebSocket only, to be quick)."""
    log: Log = []
    clients: dict[str, _PythonClient] = {}
    changed = asyncio.Event()

    async def until(ready: Callable[[], bool], what: str) -> None:
        async with asyncio.timeout(DEADLINE):
            while not ready():
                changed.clear()
                await changed.wait()

    try:
        for step in steps:
            name = step.get("c", "a")
            if step["do"] == "http":
                log.append([name, "http", *await http_get(url, step["path"])])
                continue
            client = clients.get(name)
            if client is None:
                client = clients[name] = _PythonClient(name, log, changed.set)
            ns = step.get("ns", "/")
            args = decode(step.get("args", []))
            data = None if not args else args[0] if len(args) == 1 else tuple(args)
            if step["do"] == "connect":
                names = ns if isinstance(ns, list) else [ns]
                for each in names:
                    client.listen(each)
                with contextlib.suppress(socketio.exceptions.ConnectionError):
                    await client.sio.connect(
                        url,
                        namespaces=names,
                        auth=step.get("auth"),
                        transports=["websocket"],
                        wait_timeout=DEADLINE,
                    )
                for each in names:
                    if each in client.errors:
                        log.append([name, each, "connect_error", encode(client.errors[each])])
                    else:
                        log.append([name, each, "connect"])
            elif step["do"] == "emit":
                await client.sio.emit(step["ev"], data, namespace=ns)
            elif step["do"] == "call":
                await _call(client, ns, step["ev"], data)
            elif step["do"] == "wait":
                count, wanted = client.counts, ((ns, step["ev"]), step.get("n", 1))
                await until(lambda c=count, w=wanted: c.get(w[0], 0) >= w[1], "wait")
            elif step["do"] == "wait_disconnect":
                await until(lambda c=client, n=ns: n in c.gone, "wait_disconnect")
            elif step["do"] == "disconnect":
                await client.sio.disconnect()
            else:
                raise AssertionError(f"unknown step {step}")
    finally:
        for client in clients.values():
            await client.sio.disconnect()
    return log


async def _call(client: _PythonClient, ns: str, event: str, data: Any) -> None:
    """Emit with an ack, logged in the callback: an event read with the ack stays after it."""
    answered: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def got(*answer: Any) -> None:
        client.log.append([client.name, ns, "ack", event, encode(list(answer))])
        answered.set_result(None)

    await client.sio.emit(event, data, namespace=ns, callback=got)
    async with asyncio.timeout(DEADLINE):
        await answered


async def http_get(url: str, path: str) -> list[Any]:
    async with httpx.AsyncClient() as http:
        response = await http.get(url + path, timeout=DEADLINE)
    return [response.status_code, response.text]


Runner = Callable[[str, list[dict[str, Any]]], Awaitable[Log]]
