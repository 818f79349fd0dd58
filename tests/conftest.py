"""Fixtures shared by the whole suite: real servers behind both front doors.

``front_door`` is a factory parametrized over the two ways of serving a router: the
standalone server (``aiosio.serve``) and the ASGI app under a real uvicorn. Give it a
callable that builds a :class:`~aiosio.server.router.Router` and it returns a
:class:`RunningServer` on a port of its own; every server it started is stopped when the
test ends. ``echo_server`` builds on it with an engine-level echo handler, and
``echo_router`` gives the same router without a server (for driving an app directly).

``redis_url`` makes sure a Redis answers at 127.0.0.1:6379, starting one (no persistence)
when none does; every test uses keys of its own (``key``), so tests never hear each other.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from aiosio.asgi import ASGIApp
from aiosio.serve import serve
from aiosio.server.engine import EngineServer, ServerSession
from aiosio.server.http import HTTPRequest
from aiosio.server.router import Router
from tests.support.servers import REDIS_URL, ping_redis, start_redis, start_uvicorn

FRONT_DOORS = ("standalone", "asgi")


@dataclass
class RunningServer:
    """A server listening on 127.0.0.1 for the duration of one test."""

    kind: str
    router: Router
    port: int

    @property
    def engine(self) -> EngineServer:
        return self.router.engine

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: what clients connect to."""
        return f"http://127.0.0.1:{self.port}"

    def engine_url(self, scheme: str = "http", **query: str) -> str:
        """The Engine.IO endpoint with ``query`` (``EIO=4`` unless given otherwise)."""
        params = {"EIO": "4", **query}
        params = {key: value for key, value in params.items() if value is not None}
        return f"{scheme}://127.0.0.1:{self.port}{self.router.path}?{urlencode(params)}"


StartServer = Callable[[Callable[[], Router]], Awaitable[RunningServer]]


async def _start_standalone(router: Router) -> tuple[int, Callable[[], Awaitable[None]]]:
    listener = await serve(router, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]

    async def stop() -> None:
        listener.close()
        await router.engine.close()
        close_clients = getattr(listener, "close_clients", None)  # Python >= 3.13
        if close_clients is not None:
            close_clients()
        await listener.wait_closed()

    return port, stop


async def _start_uvicorn(router: Router) -> tuple[int, Callable[[], Awaitable[None]]]:
    # Sessions first: a held long-poll would keep uvicorn's graceful shutdown waiting.
    return await start_uvicorn(ASGIApp(router), before_stop=router.engine.close)


@pytest.fixture(params=FRONT_DOORS)
async def front_door(request: pytest.FixtureRequest) -> AsyncIterator[StartServer]:
    """``await front_door(make_router)``: serve a router on a fresh port, stopped at the end."""
    kind: str = request.param
    stops: list[Callable[[], Awaitable[None]]] = []

    async def start(make_router: Callable[[], Router]) -> RunningServer:
        router = make_router()
        starter = _start_standalone if kind == "standalone" else _start_uvicorn
        port, stop = await starter(router)
        stops.append(stop)
        return RunningServer(kind, router, port)

    yield start
    for stop in reversed(stops):
        await stop()


ServeASGI = Callable[..., Awaitable[int]]


@pytest.fixture
async def uvicorn_app() -> AsyncIterator[ServeASGI]:
    """``await uvicorn_app(app, before_stop=..., **config)``: any ASGI app under a real
    uvicorn (see :func:`start_uvicorn`); returns the port; stopped when the test ends."""
    stops: list[Callable[[], Awaitable[None]]] = []

    async def start(app: Any, **options: Any) -> int:
        port, stop = await start_uvicorn(app, **options)
        stops.append(stop)
        return port

    yield start
    for stop in reversed(stops):
        await stop()


@dataclass
class EchoHandler:
    """An engine handler that writes back every message and records what happens."""

    opened: list[ServerSession] = field(default_factory=list)
    requests: dict[str, HTTPRequest] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    _closed: dict[str, asyncio.Future[str]] = field(default_factory=dict)

    def on_open(self, session: ServerSession, request: HTTPRequest) -> None:
        self.opened.append(session)
        self.requests[session.sid] = request

    def on_message(self, session: ServerSession, data: str | bytes) -> None:
        session.write("4" + data if isinstance(data, str) else data)

    def on_close(self, session: ServerSession, reason: str) -> None:
        self.reasons[session.sid] = reason
        self._future(session.sid).set_result(reason)

    def _future(self, sid: str) -> asyncio.Future[str]:
        future = self._closed.get(sid)
        if future is None:
            future = self._closed[sid] = asyncio.get_running_loop().create_future()
        return future

    async def closed(self, sid: str) -> str:
        """Wait (10 s at most) until session ``sid`` closes; return its reason."""
        async with asyncio.timeout(10):
            return await asyncio.shield(self._future(sid))


MakeRouter = Callable[..., Router]
StartEcho = Callable[..., Awaitable[RunningServer]]

_ROUTER_OPTIONS = ("path", "static_files", "serve_client", "other_app")


def make_echo_router(**options: Any) -> Router:
    """A router over an echo engine; ``path``, ``static_files``, ``serve_client`` and
    ``other_app`` go to the router, the rest to :class:`EngineServer`."""
    router_options = {key: options.pop(key) for key in _ROUTER_OPTIONS if key in options}
    return Router(EngineServer(EchoHandler(), **options), **router_options)


@pytest.fixture
def echo_router() -> MakeRouter:
    """``echo_router(**options)``: an echo engine's router, served by nothing (yet)."""
    return make_echo_router


@pytest.fixture
def echo_server(front_door: StartServer) -> StartEcho:
    """``await echo_server(**options)``: an echo engine behind the front door.

    The handler is ``server.engine.handler`` (an :class:`EchoHandler`); options are those
    of :func:`make_echo_router`.
    """

    async def start(**options: Any) -> RunningServer:
        return await front_door(lambda: make_echo_router(**options))

    return start


# -- logging --------------------------------------------------------------------------------


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """The root logger's handlers and level as they were before the test."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


# -- a real Redis -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The machine's Redis at 127.0.0.1:6379, started when it is not running."""
    if not ping_redis(6379):
        if shutil.which("redis-server") is None:
            pytest.skip("no Redis server and no redis-server to start one")
        start_redis(6379, daemonize=True)
    return REDIS_URL


@pytest.fixture
def key() -> str:
    """A channel prefix of this test's own."""
    return f"t-{uuid.uuid4().hex[:10]}"


# -- mypy -------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def mypy_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ``--cache-dir`` for the tests that run ``mypy --strict`` on examples (README's
    and the docs'): the second run reuses the first one's analysis of aiosio and its
    dependencies instead of redoing it. It starts as a copy of the project's own cache,
    when there is one (``make test`` type-checks the package just before the tests), so
    even the first run finds aiosio analysed. mypy keys each module's entry by its options
    and source, so a run checks exactly what it would check with a cache of its own."""
    cache = tmp_path_factory.mktemp("mypy-cache")
    project = Path(__file__).resolve().parent.parent / ".mypy_cache"
    if project.is_dir():
        shutil.copytree(project, cache, dirs_exist_ok=True)
    return cache
