"""Every example of the documentation runs: each server example is started on a port of its
own (or under uvicorn) and driven by a real client, ours or python-socketio's; the whole
folder passes ``mypy --strict``; and every example file is included into some page.

The examples live in docs/examples/ and the pages include them with pymdownx.snippets
(``--8<-- "chat/server.py"``), so what a reader sees is what runs here.
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
import yaml

import aiosio
import aiosio.testing
import socketio
from aiosio.server.router import find_client_bundle
from tests.support.cli_process import CLIProcess
from tests.support.ports import free_port
from tests.support.servers import running, start_uvicorn

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
EXAMPLES = DOCS / "examples"
FRAMEWORKS = EXAMPLES / "frameworks"


@pytest.fixture(autouse=True)
def examples_on_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """docs/examples on sys.path, as for a reader who runs them from there."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    yield
    for name in [name for name in sys.modules if name == "chat" or name.startswith("chat.")]:
        del sys.modules[name]


_loaded = 0


def load(relative: str) -> ModuleType:
    """Import an example afresh (a new module, so a new server, each time)."""
    global _loaded
    _loaded += 1
    path = EXAMPLES / relative
    spec = importlib.util.spec_from_file_location(f"docs_example_{_loaded}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- the tutorial ------------------------------------------------------------------------


async def test_the_tutorial_chat_serves_its_page_and_talks_to_both_clients(
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = load("chat/server.py")
    client = load("chat/client.py")
    async with running(server.io) as url:
        async with httpx.AsyncClient(base_url=url) as http:
            page = await http.get("/")
            assert page.status_code == 200
            assert '<script src="/socket.io/socket.io.js">' in page.text
            if find_client_bundle() is not None:
                assert (await http.get("/socket.io/socket.io.js")).status_code == 200

        # python-socketio's client in the room, hearing what ours says there.
        listener = socketio.AsyncClient(reconnection=False)
        heard: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        listener.on("chat", heard.set_result)
        await listener.connect(url, auth={"name": "grace"}, transports=["websocket"])
        assert await listener.call("join", "python", timeout=5) == ["lobby", "python"]

        client.URL = url
        assert await client.chat("ada", "python", "hello from Python") == "delivered"
        message = await asyncio.wait_for(heard, 5)
        assert message == {"from": "ada", "room": "python", "text": "hello from Python"}
        await listener.disconnect()
    assert "my rooms: ['lobby', 'python']" in capsys.readouterr().out


# -- the server and the client guides ------------------------------------------------------


async def test_the_server_guide_example_answers_the_client_guide_example(
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = load("server/features.py")
    client = load("client/features.py")
    async with running(server.io) as url:
        client.URL = url
        await client.main()
        out = capsys.readouterr().out
        assert out.splitlines() == [
            "5",
            "(3, 1)",
            "{'sockets': 1, 'answered': 1}",
            "disconnected: io client disconnect",
        ]

        # The /admin middleware refuses a client without the token, with its message.
        with pytest.raises(aiosio.ConnectionError, match="not authorized"):
            await aiosio.connect(url + "/admin", reconnection=False)

        # A dynamic namespace is created for a matching name, and announces its members.
        team = aiosio.Client(url + "/team-blue", reconnection=False)
        member: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        team.on("member", member.set_result)
        await team.connect()
        assert await asyncio.wait_for(member, 5) == team.id
        await team.disconnect()

        # The ack callable and the server asking the client.
        socket = await aiosio.connect(url)
        socket.on("question", lambda text: text.upper())
        assert await socket.emit_with_ack("slow-add", 20, 22, timeout=5) == 42
        assert await socket.emit_with_ack("poll-me", timeout=5) == "READY?"
        await socket.disconnect()


async def test_the_sync_client_example(capsys: pytest.CaptureFixture[str]) -> None:
    server = load("server/features.py")
    client = load("client/sync.py")
    async with running(server.io) as url:
        client.URL = url
        await asyncio.to_thread(client.main)
    assert capsys.readouterr().out.splitlines() == ["5", "shout ['hello']"]


# -- web frameworks ------------------------------------------------------------------------


async def test_the_fastapi_example_under_uvicorn() -> None:
    example = load("frameworks/fastapi_app.py")
    port, stop = await start_uvicorn(example.app, before_stop=example.io.close)
    try:
        url = f"http://127.0.0.1:{port}"
        socket = await aiosio.connect(url, transports=["websocket"])
        assert await socket.emit_with_ack("ping", timeout=5) == "pong"
        async with httpx.AsyncClient(base_url=url) as http:
            assert (await http.get("/api/online")).json() == {"online": 1}
        await socket.disconnect()
    finally:
        await stop()


async def test_the_starlette_example_under_uvicorn() -> None:
    example = load("frameworks/starlette_app.py")
    port, stop = await start_uvicorn(example.asgi, before_stop=example.io.close)
    try:
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=url) as http:
            assert (await http.get("/")).text == "the rest of the site"
        socket = await aiosio.connect(url)  # long-polling first, then the upgrade
        assert await socket.emit_with_ack("echo", {"a": [1, 2]}, timeout=5) == {"a": [1, 2]}
        await socket.disconnect()
    finally:
        await stop()


# -- recovery, msgpack, compression ---------------------------------------------------------


async def test_the_recovery_example_recovers_a_dropped_client() -> None:
    example = load("features_recovery.py")
    async with running(example.io) as url:
        # A real client must speak msgpack too, and may offer permessage-deflate.
        socket = await aiosio.connect(url, parser="msgpack", per_message_deflate=True)
        assert socket.connected
        await socket.disconnect()
    async with aiosio.testing.serve(example.io) as server:
        client = await server.connect(parser="msgpack")
        first_id = client.id
        back: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        client.on("connect", lambda: back.done() or back.set_result(client.recovered))
        news: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        client.on("news", news.set_result)
        aiosio.testing.drop(client)
        example.io.to("news").emit("news", "missed while away")
        assert await asyncio.wait_for(back, 5) is True
        assert client.id == first_id
        assert await asyncio.wait_for(news, 5) == "missed while away"


# -- scaling out -----------------------------------------------------------------------------


@pytest.mark.redis
async def test_the_redis_example_crosses_servers_and_the_emitter_reaches_them(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REDIS_URL", redis_url)
    first, second = load("scaling/redis_app.py"), load("scaling/redis_app.py")
    emitter = load("scaling/emitter.py")
    async with running(first.io) as url_1, running(second.io) as url_2:
        alice = await aiosio.connect(url_1)
        bob = await aiosio.connect(url_2)
        heard: asyncio.Queue[str] = asyncio.Queue()
        bob.on("shout", heard.put_nowait)
        alice.emit("shout", "across the cluster")
        assert await asyncio.wait_for(heard.get(), 5) == "across the cluster"
        await emitter.announce("from a script", redis_url)
        assert await asyncio.wait_for(heard.get(), 5) == "from a script"
        await alice.disconnect()
        await bob.disconnect()


# -- security --------------------------------------------------------------------------------


async def test_the_auth_example_lets_a_signed_token_in_and_keeps_the_rest_out() -> None:
    example = load("security/auth.py")
    async with running(example.io) as url:
        socket = await aiosio.connect(url, auth={"token": example.sign("ada")})
        assert await socket.emit_with_ack("whoami", timeout=5) == "ada"
        await socket.disconnect()

        forged = example.sign("ada")[:-1] + "0"
        with pytest.raises(aiosio.ConnectionError, match="unauthorized"):
            await aiosio.connect(url, auth={"token": forged}, reconnection=False)

        with pytest.raises(aiosio.ConnectionError):
            await aiosio.connect(url, extra_headers={"User-Agent": "bad-bot"}, reconnection=False)

        async with httpx.AsyncClient(base_url=url) as http:
            handshake = {"EIO": "4", "transport": "polling"}
            foreign = {"Origin": "https://elsewhere.example"}
            assert (await http.get("/socket.io/", params=handshake, headers=foreign)).is_error
            own = {"Origin": "https://chat.example"}
            answer = await http.get("/socket.io/", params=handshake, headers=own)
            assert answer.status_code == 200
            assert answer.headers["access-control-allow-origin"] == "https://chat.example"


# -- operations ------------------------------------------------------------------------------


async def test_the_operations_example_serves_metrics_health_and_the_admin_namespace() -> None:
    example = load("operations/app.py")
    async with running(example.io) as url:
        socket = await aiosio.connect(url)
        assert await socket.emit_with_ack("ping", timeout=5) == "pong"
        async with httpx.AsyncClient(base_url=url) as http:
            assert (await http.get("/healthz")).status_code == 200
            metrics = await http.get("/metrics")
            assert metrics.status_code == 200
            assert "aiosio_" in metrics.text
        with pytest.raises(aiosio.ConnectionError):
            await aiosio.connect(url + "/admin", auth={"password": "nope"}, reconnection=False)
        admin = await aiosio.connect(
            url + "/admin",
            auth={"username": "admin", "password": "change-me"},
            reconnection=False,
        )
        assert admin.connected
        await admin.disconnect()
        await socket.disconnect()


# -- testing ---------------------------------------------------------------------------------


async def test_the_testing_example_passes() -> None:
    example = load("testing/test_chat.py")
    tests = [getattr(example, name) for name in dir(example) if name.startswith("test_")]
    assert len(tests) == 2
    for test in tests:
        await test()


# -- all of them -----------------------------------------------------------------------------


def example_files() -> list[Path]:
    return sorted(
        path for path in EXAMPLES.rglob("*") if path.is_file() and "__pycache__" not in path.parts
    )


def included() -> set[str]:
    """The example files the pages include (pymdownx.snippets, relative to docs/examples)."""
    found: set[str] = set()
    for page in DOCS.rglob("*.md"):
        text = page.read_text(encoding="utf-8")
        for block in re.findall(r'-{2}8<-{2}\s*"([^"]+)"', text):
            found.add(block.partition(":")[0])  # "file.py:section" includes a part
    return found


def test_every_example_file_is_included_into_a_page() -> None:
    files = {path.relative_to(EXAMPLES).as_posix() for path in example_files()}
    assert files, "no examples"
    missing = files - included()
    assert not missing, f"examples no page includes: {sorted(missing)}"
    assert included() <= files


def test_every_example_passes_mypy_strict(mypy_cache: Path) -> None:
    sources = [str(path) for path in example_files() if path.suffix == ".py"]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--explicit-package-bases",
            "--cache-dir",
            str(mypy_cache),
            *sources,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"MYPYPATH": str(EXAMPLES), "PATH": "/usr/bin:/bin"},
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_fastapi_example_under_aiosio_serve(tmp_path: Path) -> None:
    """As the frameworks guide says: ``aiosio serve fastapi_app:app`` runs the whole app."""
    folder = EXAMPLES / "frameworks"
    args = ["serve", "fastapi_app:app", "--port", "0"]
    with CLIProcess(args, cwd=folder, log=tmp_path / "log") as process:
        url = process.url()
        with aiosio.SyncSimpleClient() as client:
            client.connect(url)
            assert client.call("ping", timeout=5) == "pong"
            assert httpx.get(url + "/api/online").json() == {"online": 1}
        assert process.stop(signal.SIGTERM) == 0, process.output()


# Django and Quart run in processes of their own: Django's settings are configured once per
# process (tests/serve configures its own), and each runner is the one the guide names.
FRAMEWORK_RUNS = [
    pytest.param("django_app:app", "aiosio", id="django-aiosio-serve"),
    pytest.param("django_app:app", "uvicorn", id="django-uvicorn"),
    pytest.param("quart_app:asgi", "aiosio", id="quart-aiosio-serve"),
    pytest.param("quart_app:asgi", "uvicorn", id="quart-uvicorn"),
]
_UVICORN_RUNNING = re.compile(r"Uvicorn running on (http://\S+) ")


@pytest.mark.parametrize(("target", "runner"), FRAMEWORK_RUNS)
def test_the_django_and_quart_examples_serve_socketio_and_their_views(
    target: str, runner: str, tmp_path: Path
) -> None:
    """As the frameworks guide says: ``aiosio serve`` or ``uvicorn`` with the example's
    target, in its folder; our client connects (long-polling, then the WebSocket upgrade)
    and calls, and the framework's own view counts it."""
    if runner == "aiosio":
        process = CLIProcess(["serve", target, "--port", "0"], cwd=FRAMEWORKS, log=tmp_path / "log")
    else:
        args = [target, "--host", "127.0.0.1", "--port", str(free_port())]
        process = CLIProcess(args, module="uvicorn", cwd=FRAMEWORKS, log=tmp_path / "log")
    with process:
        if runner == "aiosio":
            url = process.url()
        else:
            url = _UVICORN_RUNNING.findall(process.wait_for(_UVICORN_RUNNING))[0]
        with aiosio.SyncSimpleClient() as client:
            client.connect(url)
            assert client.call("ping", timeout=5) == "pong"
            assert httpx.get(url + "/api/online").json() == {"online": 1}
        assert httpx.get(url + "/api/online").json() == {"online": 0}
        status = process.stop(signal.SIGTERM)
    if runner == "aiosio":
        assert status == 0, process.output()
    else:  # uvicorn stops gracefully, then ends by the signal it was sent
        assert status in (0, -signal.SIGTERM), process.output()
        assert "Finished server process" in process.output()


def test_the_deployment_configs_name_what_the_examples_serve() -> None:
    """The Kubernetes manifest and the HAProxy configuration cannot run here; they are
    parsed, and what they name must exist: the module they serve, the health check path,
    the port, and timeouts longer than a heartbeat (ping_interval + ping_timeout)."""
    documents = list(yaml.safe_load_all((EXAMPLES / "scaling" / "kubernetes.yaml").read_text()))
    kinds = {document["kind"]: document for document in documents}
    assert set(kinds) == {"Deployment", "Service", "Ingress"}
    container = kinds["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    command = container["command"]
    target = command[command.index("serve") + 1]
    module, _, name = target.partition(":")
    assert isinstance(getattr(load(f"scaling/{module}.py"), name), aiosio.Server)
    port = int(command[command.index("--port") + 1])
    assert container["ports"][0]["containerPort"] == port
    health = load("operations/app.py").io.router.routes
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": port}
        assert "/healthz" in health
    annotations = kinds["Ingress"]["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    heartbeat = 25 + 20
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) > heartbeat

    haproxy = (EXAMPLES / "scaling" / "haproxy.cfg").read_text()
    assert "option httpchk GET /healthz" in haproxy
    assert "cookie SERVERID insert" in haproxy
    for side in ("client", "server"):
        seconds = int(re.search(rf"timeout {side} (\d+)s", haproxy).group(1))  # type: ignore[union-attr]
        assert seconds > heartbeat
    assert re.findall(r"server app\d \S+:(\d+)", haproxy) == [str(port)] * 3
