"""The command line: real processes for serving and stopping, in-process for the helpers."""

from __future__ import annotations

import asyncio
import gc
import importlib.metadata
import importlib.util
import inspect
import json
import logging
import os
import signal
import socket
import sys
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

import pytest

import socketio
from aiosio import Server, cli
from aiosio.cli import (
    TargetError,
    load_target,
    main,
    reload_command,
    reload_loop,
    run,
    server_of,
    snapshot,
)
from tests.support.cli_process import CLIProcess
from tests.support.ports import free_port as _free_port

APP = textwrap.dedent(
    """
    import aiosio

    io = aiosio.Server(serve_client=False)
    app = io.asgi_app()


    async def plain(scope, receive, send):
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"plain asgi"})


    @io.on("connection")
    def connection(socket):
        print("server-side connect", socket.id, flush=True)

        def disconnect(reason):
            print("server-side disconnect:", reason, flush=True)

        socket.on("disconnect", disconnect)
    """
)


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    (tmp_path / "cliapp.py").write_text(APP)
    return tmp_path


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        body: bytes = response.read()
        return body


# -- serving and stopping (real processes) -------------------------------------------------


CLIENT = Path(__file__).parent / "e2e" / "client.mjs"
CLIENT_READY = (Path(__file__).parents[1] / "examples/chat/node_modules/socket.io-client").is_dir()


@pytest.mark.skipif(not CLIENT_READY, reason="socket.io-client not installed (make env)")
@pytest.mark.parametrize(
    ("sig", "transport"),
    [(signal.SIGTERM, "websocket"), (signal.SIGINT, "websocket"), (signal.SIGTERM, "polling")],
)
async def test_serve_stops_cleanly_on_a_signal(
    app_dir: Path, sig: signal.Signals, transport: str
) -> None:
    log = app_dir / "out.log"
    with CLIProcess(["serve", "cliapp:io", "--port", "0"], cwd=app_dir, log=log) as process:
        url = process.url()
        client = await asyncio.create_subprocess_exec(
            "node", str(CLIENT), url, transport, stdout=asyncio.subprocess.PIPE
        )
        assert client.stdout is not None
        async with asyncio.timeout(20):
            connected = await client.stdout.readline()
            assert connected.startswith(b"connected "), connected
            await asyncio.to_thread(process.wait_for, "server-side connect")
            # A polling client may be between two polls: its next GET fetches the CLOSE.
            process.process.send_signal(sig)  # type: ignore[union-attr]
            reason = (await client.stdout.readline()).decode().strip()
            await client.wait()
        status = await asyncio.to_thread(process.wait)
    output = process.output()
    assert status == 0, output
    # The official client sees the server close its transport, as with a Node server's
    # io.close(); the server's sockets get "server shutting down".
    assert reason == "disconnect: transport close"
    assert "server-side disconnect: server shutting down" in output
    assert "shutting down: closing 1 connection(s)" in output
    assert output.rstrip().endswith("stopped")


def test_serve_an_asgi_app_of_aiosio(app_dir: Path) -> None:
    args = ["serve", "cliapp:app", "--port", "0", "--no-uvloop", "--metrics-path", "/m"]
    with CLIProcess(args, cwd=app_dir, log=app_dir / "out.log") as process:
        url = process.url()
        assert "asyncio" in process.output()
        assert _get(url + "/socket.io/?EIO=4&transport=polling").startswith(b'0{"sid":')
        assert b"aiosio_engine_sessions_opened_total 1" in _get(url + "/m")
        assert process.stop() == 0


def test_serve_a_foreign_asgi_app_with_uvicorn(app_dir: Path) -> None:
    port = _free_port()
    args = ["serve", "cliapp:plain", "--port", str(port), "--log-level", "warning"]
    with CLIProcess(args, cwd=app_dir, log=app_dir / "out.log") as process:
        deadline = time.monotonic() + 20
        while True:
            try:
                body = _get(f"http://127.0.0.1:{port}/")
                break
            except OSError:
                assert time.monotonic() < deadline, process.output()
                time.sleep(0.1)
        assert body == b"plain asgi"
        # uvicorn shuts down gracefully, then exits by the signal it caught.
        assert process.stop() in (0, -signal.SIGTERM)


def test_reload_restarts_the_server_when_a_file_changes(app_dir: Path) -> None:
    args = ["serve", "cliapp:io", "--port", "0", "--reload", "--reload-dir", str(app_dir)]
    with CLIProcess(args, cwd=app_dir, log=app_dir / "out.log") as process:
        first = process.url()
        source = app_dir / "cliapp.py"
        source.write_text(APP + "\n# changed\n")
        later = time.time() + 2
        os.utime(source, (later, later))
        second = process.url(count=2)
        assert _get(second + "/socket.io/?EIO=4&transport=polling").startswith(b"0")
        assert process.stop(signal.SIGINT) == 0
    output = process.output()
    assert "cliapp.py changed: restarting" in output
    assert first != second or output.count("stopped") >= 1
    assert output.count("stopped") == 2  # the first server, then the second one


@pytest.mark.skipif(
    importlib.util.find_spec("aiosio.workers") is None, reason="no aiosio.workers module"
)
def test_workers_are_handed_to_the_workers_module(app_dir: Path) -> None:
    port = _free_port()
    args = ["serve", "cliapp:io", "--port", str(port), "--workers", "2"]
    with CLIProcess(args, cwd=app_dir, log=app_dir / "out.log") as process:
        process.wait_for(r"serving on http://127\.0\.0\.1:\d+ \(2 workers", timeout=40)
        assert _get(f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling")[:1] == b"0"
        assert process.stop() == 0


def test_version_prints_the_installed_version(tmp_path: Path) -> None:
    with CLIProcess(["--version"], cwd=tmp_path, log=tmp_path / "out.log") as process:
        assert process.wait() == 0
    assert process.output().strip() == f"aiosio {importlib.metadata.version('aiosio')}"


def test_serve_defaults_to_port_3000_as_io_run_and_the_docs(tmp_path: Path) -> None:
    """One default port everywhere: 3000, the Socket.IO docs' port (``io.run()``'s too)."""
    with CLIProcess(["serve", "--help"], cwd=tmp_path, log=tmp_path / "out.log") as process:
        assert process.wait() == 0
    assert "port, 0 for any (3000)" in " ".join(process.output().split())
    assert cli.make_parser().parse_args(["serve", "app:io"]).port == 3000
    assert inspect.signature(Server.run).parameters["port"].default == 3000


def test_python_dash_m_and_errors_exit_with_status_2(app_dir: Path) -> None:
    with CLIProcess(["serve", "nope:io"], cwd=app_dir, log=app_dir / "out.log") as process:
        assert process.process is not None
        assert process.process.wait(20) == 2
    assert "cannot import module 'nope'" in process.output()


# -- helpers, in process -------------------------------------------------------------------


@pytest.fixture
def on_path(app_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(app_dir)
    monkeypatch.syspath_prepend(str(app_dir))
    yield app_dir
    sys.modules.pop("cliapp", None)


def test_load_target_finds_dotted_attributes(on_path: Path) -> None:
    io = load_target("cliapp:io")
    assert isinstance(io, Server)
    assert server_of(io) is io
    assert server_of(load_target("cliapp:app")) is io
    assert server_of(load_target("cliapp:plain")) is None
    assert load_target("cliapp:io.engine") is io.engine


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("cliapp", "expected module:attribute"),
        (":io", "expected module:attribute"),
        ("missing_module_x:io", "cannot import module"),
        ("cliapp:nothing", "has no attribute"),
    ],
)
def test_load_target_explains_what_is_wrong(on_path: Path, spec: str, message: str) -> None:
    with pytest.raises(TargetError, match=message):
        load_target(spec)


def test_a_module_failing_to_import_something_else_is_not_hidden(on_path: Path) -> None:
    (on_path / "broken_app.py").write_text("import not_installed_dependency_x\n")
    with pytest.raises(ModuleNotFoundError, match="not_installed_dependency_x"):
        load_target("broken_app:io")


def test_server_of_refuses_what_cannot_be_served() -> None:
    with pytest.raises(TargetError, match="neither"):
        server_of(42)


def test_reload_command_drops_the_reload_options() -> None:
    argv = ["serve", "a:io", "--reload", "--reload-dir", "src", "--reload-dir=x", "--port", "1"]
    assert reload_command(argv) == [sys.executable, "-m", "aiosio", "serve", "a:io", "--port", "1"]


def test_snapshot_sees_python_files_only(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("")
    (tmp_path / "b.txt").write_text("")
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "c.py").write_text("")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "d.py").write_text("")
    assert sorted(path.name for path in snapshot([tmp_path])) == ["a.py", "d.py"]


@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["serve", "cliapp:io", "--workers", "0"], "--workers 0: at least 1"),
        (["serve", "cliapp:nothing"], "has no attribute"),
    ],
)
def test_main_reports_errors_with_status_2(
    on_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.usefixtures("restore_logging")
def test_main_reports_a_port_in_use(on_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "cliapp:io", "--port", str(port), "--no-uvloop"]) == 1
    assert "cannot serve on 127.0.0.1" in capsys.readouterr().err


# -- serving in process (the signal is sent once the handlers are in place) ------------------


def _stop_when_ready(url: str) -> None:
    os.kill(os.getpid(), signal.SIGTERM)


@pytest.mark.parametrize("use_uvloop", [False, True])
def test_run_serves_until_sigterm(use_uvloop: bool, caplog: pytest.LogCaptureFixture) -> None:
    io = Server(serve_client=False)
    seen: list[str] = []

    def ready(url: str) -> None:
        seen.append(url)
        _stop_when_ready(url)

    with caplog.at_level(logging.INFO, "aiosio.cli"):
        run(io, "127.0.0.1", 0, use_uvloop=use_uvloop, ready=ready)
    assert seen[0].startswith("http://127.0.0.1:")
    assert "stopped" in caplog.text


def test_run_freezes_what_start_up_made() -> None:
    # As io.run(): the collector never walks start-up's objects again (an application's
    # framework doubles them); the serve path used to leave them to every full collection.
    io = Server(serve_client=False)
    frozen: list[int] = []

    def ready(url: str) -> None:
        frozen.append(gc.get_freeze_count())
        _stop_when_ready(url)

    gc.unfreeze()
    try:
        run(io, "127.0.0.1", 0, use_uvloop=False, ready=ready)
    finally:
        gc.unfreeze()
    assert frozen[0] > 1000


@pytest.mark.usefixtures("restore_logging")
def test_demo_and_serve_commands_in_process(
    on_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    original = cli.run

    def run_then_stop(io: Server, host: str, port: int, **options: object) -> None:
        announce = options.pop("ready", None)

        def ready(url: str) -> None:
            if callable(announce):
                announce(url)
            _stop_when_ready(url)

        original(io, host, port, use_uvloop=False, ready=ready)

    monkeypatch.setattr(cli, "run", run_then_stop)
    assert main(["demo", "--port", "0", "--admin-password", "pw"]) == 0
    err = capsys.readouterr().err
    assert "chat demo: http://127.0.0.1:" in err
    assert "(user 'admin', password 'pw')" in err
    assert main(["serve", "cliapp:io", "--port", "0", "--metrics-path", "/metrics"]) == 0
    assert main(["serve", "cliapp:io", "--workers", "2", "--reload"]) == 2


@pytest.mark.usefixtures("restore_logging")
def test_a_foreign_app_needs_uvicorn(
    on_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    assert main(["serve", "cliapp:plain"]) == 1
    assert "install uvicorn" in capsys.readouterr().err


def test_reload_loop_restarts_its_child_and_stops_on_a_signal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    watched = tmp_path / "mod.py"
    watched.write_text("")
    started = tmp_path / "started"
    command = [
        sys.executable,
        "-c",
        f"open({str(started)!r}, 'a').write('x'); import time; time.sleep(60)",
    ]

    def script() -> None:
        deadline = time.monotonic() + 20
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        later = time.time() + 5
        os.utime(watched, (later, later))
        while started.read_text() != "xx" and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    helper = threading.Thread(target=script)
    helper.start()
    with caplog.at_level(logging.INFO, "aiosio.cli"):
        status = reload_loop(command, [tmp_path])
    helper.join()
    assert status == -signal.SIGTERM  # the child (a plain sleep) was terminated
    assert "mod.py changed: restarting" in caplog.text
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


# -- aiosio serve main:app: an application with Socket.IO mounted ----------------------------

FASTAPI_APP = textwrap.dedent(
    """
    from contextlib import asynccontextmanager

    import aiosio
    from fastapi import FastAPI, Request

    io = aiosio.Server(serve_client=False)
    FAIL = False


    @asynccontextmanager
    async def lifespan(app):
        print("app startup", flush=True)
        if FAIL:
            raise RuntimeError("the cache is unreachable")
        yield {"resource": "open"}
        print("app shutdown", flush=True)


    app = FastAPI(lifespan=lifespan)
    app.mount("/ws", io.asgi_app())


    @app.get("/hello")
    async def hello(request: Request):
        return {"resource": request.state.resource}
    """
)


def test_serve_a_fastapi_app_that_mounts_socketio(tmp_path: Path) -> None:
    (tmp_path / "fastmain.py").write_text(FASTAPI_APP)
    args = ["serve", "fastmain:app", "--port", "0", "--lifespan", "on"]
    with CLIProcess(args, cwd=tmp_path, log=tmp_path / "out.log") as process:
        url = process.url()
        assert process.output().index("app startup") < process.output().index("serving on")
        assert _get(url + "/hello") == b'{"resource":"open"}'
        # Socket.IO where the app mounts it, answered by the engine itself.
        assert _get(url + "/ws/socket.io/?EIO=4&transport=polling").startswith(b'0{"sid":')
        assert process.stop() == 0
    output = process.output()
    assert output.index("serving on") < output.index("app shutdown")


def test_a_failing_startup_exits_non_zero_with_the_apps_error(tmp_path: Path) -> None:
    (tmp_path / "failmain.py").write_text(FASTAPI_APP.replace("FAIL = False", "FAIL = True"))
    with CLIProcess(
        ["serve", "failmain:app", "--port", "0"], cwd=tmp_path, log=tmp_path / "o"
    ) as p:
        assert p.wait() == 3
    assert "the cache is unreachable" in p.output()
    assert "serving on" not in p.output()


WORKERS_APP = FASTAPI_APP + textwrap.dedent(
    """

    import os


    @app.get("/pid")
    async def pid(request: Request):
        return {"pid": os.getpid(), "resource": request.state.resource}


    @io.on("connection")
    def connection(socket):
        socket.on("whoami", os.getpid)
    """
)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_workers_serve_an_application_each_with_its_lifespan(
    tmp_path: Path, sig: signal.Signals
) -> None:
    (tmp_path / "workersmain.py").write_text(WORKERS_APP)
    args = ["serve", "workersmain:app", "--port", "0", "--workers", "2", "--lifespan", "on"]
    with CLIProcess(args, cwd=tmp_path, log=tmp_path / "out.log") as process:
        url = await asyncio.to_thread(process.url)
        output = process.output()
        assert output.count("app startup") == 2  # before the front listens
        assert output.index("app startup") < output.index("serving on")
        answers = [json.loads(await asyncio.to_thread(_get, url + "/pid")) for _ in range(4)]
        assert {answer["resource"] for answer in answers} == {"open"}  # each lifespan's state
        pids = {answer["pid"] for answer in answers}
        assert len(pids) == 2 and process.process is not None
        assert process.process.pid not in pids  # answered by the two workers
        # Socket.IO where the app mounts it, over WebSocket (no stickiness needed) and
        # long-polling (the front keeps the session on its worker).
        for transport in ("websocket", "polling"):
            client = socketio.AsyncClient(reconnection=False)
            await client.connect(url, socketio_path="/ws/socket.io", transports=[transport])
            try:
                seen = {await client.call("whoami", timeout=10) for _ in range(3)}
                assert len(seen) == 1 and seen <= pids
            finally:
                await client.disconnect()
        assert await asyncio.to_thread(process.stop, sig) == 0  # to the front only
    output = process.output()
    assert output.count("app shutdown") == 2, output
    assert output.count("worker 0 stopped") == output.count("worker 1 stopped") == 1
    assert output.rstrip().endswith("stopped") and "Traceback" not in output


def test_a_worker_failing_its_startup_fails_the_front(tmp_path: Path) -> None:
    (tmp_path / "failworkers.py").write_text(WORKERS_APP.replace("FAIL = False", "FAIL = True"))
    args = ["serve", "failworkers:app", "--port", "0", "--workers", "2"]
    with CLIProcess(args, cwd=tmp_path, log=tmp_path / "out.log") as process:
        assert process.wait(60) == 1
    output = process.output()
    assert "application startup failed" in output and "the cache is unreachable" in output
    assert "exited with 3" in output  # the worker's status for a failed startup
    assert "serving on" not in output
