"""Several worker processes on one port, with sticky routing by session id.

::

    python -m aiosio.workers myapp:io --workers 4 --host 0.0.0.0 --port 3000

``myapp:io`` names an :class:`aiosio.Server` (or a function returning one), normally with a
cluster adapter (``redis_adapter``) so that broadcasts reach the clients of every worker;
or an ASGI application with Socket.IO mounted (``main:app``, as ``aiosio serve`` serves
it): each worker then runs the app and its lifespan, with the application options
(``--root-path``, ``--lifespan`` ...), and a worker whose startup fails stops them all.
Each worker listens on a private port of 127.0.0.1; this front process accepts the public
connections, reads each request head and forwards the connection to a worker:

* a request that names a session (the ``sid`` query parameter, or the ``io`` cookie) goes to
  the worker that opened that session, so long-polling works;
* a request without one (a handshake) goes to the next worker in turn, and the session id in
  its answer is remembered (bounded, least recently used first out);
* polling requests are forwarded with ``Connection: close``, so that a kept-alive browser
  connection can never carry another session's request to the wrong worker; WebSocket
  connections are piped as they are;
* the client's address goes to the worker in ``X-Forwarded-For`` (see
  :func:`aiosio.balancer.forwarding`).

* ``GET /healthz`` (``--health-path``) is answered by the front itself, with the state of
  every worker (503 when one is unhealthy, unresponsive or down), and
  ``/healthz?worker=N`` answers for worker N alone: the balancer would otherwise pick the
  worker that answers, so a deaf one could never be probed. Any other request with a
  ``worker=N`` query parameter goes to worker N (``/metrics?worker=1``: a scraper can reach
  each worker).

A worker that exits is started again, as gunicorn does, after a delay that doubles while it
keeps exiting soon after its start (1 s, 2 s, 4 s ... 30 s). The workers get the front's
``--log-level``, ``--log-format`` and ``--metrics-path``. SIGINT or SIGTERM to the front
stops accepting, sends SIGTERM to the workers (which close their clients, "server shutting
down") and exits 0 once they are gone.

Behind nginx on several machines, use ``ip_hash`` or a sticky cookie (docs/cluster.md).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib.util
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiosio.balancer import (
    MAX_HEAD,
    Rewrite,
    StickyBalancer,
    forwarding,
    request_sid,
    request_target,
)
from aiosio.logs import LEVELS, configure
from aiosio.serve.lifespan import LifespanError
from aiosio.serve.options import add_app_options, app_settings, listen_of
from aiosio.serve.run import Listen, run_server
from aiosio.server.collector import freeze_after_startup
from aiosio.targets import find_served, load_server, load_target

__all__ = [
    "Backoff",
    "StickyBalancer",
    "Supervisor",
    "WorkerOptions",
    "app_arguments",
    "load_server",
    "main",
    "make_parser",
    "request_sid",
    "run",
    "run_parsed",
]

logger = logging.getLogger("aiosio.workers")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Backoff:
    """The delay before a worker is started again, as gunicorn's arbiter does.

    It doubles with every exit that follows a short life (a worker crashing at once must not
    spin the machine), up to ``cap``; a worker that lived ``settled`` seconds starts afresh.
    """

    first: float = 1.0
    cap: float = 30.0
    settled: float = 30.0

    def delay(self, failures: int) -> float:
        """The delay after ``failures`` quick exits in a row (0 for the first one)."""
        return float(min(self.cap, self.first * 2 ** min(failures, 32)))


@dataclass
class WorkerOptions:
    """What every worker process is started with (the front's command-line flags)."""

    target: str
    log_level: str = "info"
    log_format: str = "text"
    metrics_path: str | None = None
    uvloop: bool | None = None
    app_args: tuple[str, ...] = ()  # how to serve an application (app_arguments)

    def command(self, index: int, port: int) -> list[str]:
        """The command line of worker ``index`` listening on ``port``."""
        command = [sys.executable, "-m", "aiosio.workers", self.target]
        command += ["--worker-port", str(port), "--worker-index", str(index)]
        command += ["--log-level", self.log_level, "--log-format", self.log_format]
        if self.metrics_path:
            command += ["--metrics-path", self.metrics_path]
        if self.uvloop is not None:
            command.append("--uvloop" if self.uvloop else "--no-uvloop")
        return [*command, *self.app_args]


_FRONT_ONLY = frozenset({"uds", "ssl_keyfile", "ssl_certfile", "ssl_keyfile_password"})
_PROXY = frozenset({"proxy_headers", "forwarded_allow_ips"})


def app_arguments(args: argparse.Namespace) -> tuple[str, ...]:
    """The application options (``--root-path``, ``--lifespan`` ...) of a parsed command
    line, as the workers' command lines carry them.

    Where to listen (``--uds``, TLS) is the front's; the proxy headers are the front's
    too: it decides which ``X-Forwarded-*`` to believe (:func:`aiosio.balancer.forwarding`),
    and each worker believes what comes from the front.
    """
    parser = argparse.ArgumentParser(add_help=False)
    add_app_options(parser)
    argv: list[str] = []
    for action in parser._actions:
        value = getattr(args, action.dest, action.default)
        if action.dest in _FRONT_ONLY | _PROXY or value == action.default:
            continue
        if isinstance(action, argparse.BooleanOptionalAction):
            argv.append(action.option_strings[0 if value else 1])
        else:
            argv += [action.option_strings[0], str(value)]
    return (*argv, "--proxy-headers", "--forwarded-allow-ips", _worker_trust(args))


def _worker_trust(args: argparse.Namespace) -> str:
    allowed = getattr(args, "forwarded_allow_ips", "127.0.0.1")
    if not getattr(args, "proxy_headers", True):
        return "127.0.0.1"
    return f"127.0.0.1,{allowed}"


@dataclass
class Worker:
    """One worker process and what the front knows about it."""

    index: int
    port: int
    process: subprocess.Popen[bytes] | None = None
    state: str = "starting"  # starting (not listening yet), up, down (exited)
    restarts: int = 0
    started: float = 0.0
    failures: int = 0  # quick exits in a row, for the backoff
    restart_at: float = 0.0

    @property
    def pid(self) -> int | None:
        """The pid of the running process (None while it is down)."""
        return self.process.pid if self.process is not None and self.state != "down" else None

    def view(self) -> dict[str, Any]:
        return {"worker": self.index, "pid": self.pid, "port": self.port, "restarts": self.restarts}


class Supervisor:
    """Starts the workers, starts again the ones that exit, and answers the health view."""

    def __init__(
        self,
        options: WorkerOptions,
        count: int,
        *,
        health_path: str = "/healthz",
        backoff: Backoff | None = None,
        probe_timeout: float = 2.0,
    ) -> None:
        self.options = options
        self.workers = [Worker(index, _free_port()) for index in range(count)]
        self.health_path = health_path
        self.backoff = backoff or Backoff()
        self.probe_timeout = probe_timeout
        self.on_exit: Callable[[int], None] = lambda index: None
        self.stopping = False
        self._watchers: set[asyncio.Task[None]] = set()

    @property
    def backends(self) -> list[tuple[str, int]]:
        return [("127.0.0.1", worker.port) for worker in self.workers]

    def available(self, index: int) -> bool:
        return self.workers[index].state == "up"

    def _spawn(self, worker: Worker) -> None:
        worker.process = subprocess.Popen(self.options.command(worker.index, worker.port))
        worker.state = "starting"
        worker.started = time.monotonic()
        task = asyncio.get_running_loop().create_task(self._until_listening(worker))
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)

    async def _until_listening(self, worker: Worker) -> None:
        """Mark ``worker`` up once its port accepts connections (while its process lives)."""
        process = worker.process
        while process is worker.process and process is not None and process.poll() is None:
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", worker.port)
                writer.close()
                worker.state = "up"
                return
            await asyncio.sleep(0.05)

    async def boot(self, timeout: float = 60) -> None:
        """Start every worker and wait until all listen.

        Raises:
            RuntimeError: If a worker exits before it listens (an app that cannot start is
                not started again and again), or they are not all up within ``timeout``.
        """
        for worker in self.workers:
            self._spawn(worker)
        deadline = time.monotonic() + timeout
        while not all(worker.state == "up" for worker in self.workers):
            for worker in self.workers:
                assert worker.process is not None
                if worker.process.poll() is not None:
                    raise RuntimeError(
                        f"worker {worker.index} exited with {worker.process.returncode}"
                    )
            if time.monotonic() > deadline:
                raise RuntimeError(f"the workers did not start in {timeout:.0f} s")
            await asyncio.sleep(0.05)

    def check(self) -> None:
        """Notice the workers that exited and start those whose delay is over."""
        now = time.monotonic()
        for worker in self.workers:
            process = worker.process
            if worker.state != "down" and process is not None and process.poll() is not None:
                self._exited(worker, process, now)
            elif worker.state == "down" and now >= worker.restart_at and not self.stopping:
                worker.restarts += 1
                self._spawn(worker)
                logger.info("worker %d started again (pid %d)", worker.index, worker.pid)

    def _exited(self, worker: Worker, process: subprocess.Popen[bytes], now: float) -> None:
        if now - worker.started >= self.backoff.settled:
            worker.failures = 0
        delay = self.backoff.delay(worker.failures)
        worker.failures += 1
        worker.state = "down"
        worker.restart_at = now + delay
        self.on_exit(worker.index)
        logger.warning(
            "worker %d (pid %d) exited with %s; starting it again in %.1f s",
            worker.index,
            process.pid,
            process.returncode,
            delay,
        )

    async def watch(self, stop: asyncio.Event, interval: float = 0.1) -> None:
        """Keep the workers running until ``stop`` is set."""
        while not stop.is_set():
            self.check()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await stop.wait()

    async def stop(self, timeout: float = 10) -> None:
        """SIGTERM every worker (they close their clients); SIGKILL those still there."""
        self.stopping = True
        running = [w.process for w in self.workers if w.process and w.process.poll() is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.terminate()
        deadline = time.monotonic() + timeout
        while any(process.poll() is None for process in running):
            if time.monotonic() > deadline:
                for process in running:
                    if process.poll() is None:
                        logger.warning("worker pid %d did not stop; killing it", process.pid)
                        process.kill()
                        process.wait()
                break
            await asyncio.sleep(0.05)
        for task in list(self._watchers):
            task.cancel()

    def kill(self) -> None:
        """The last resort when the front itself fails: no worker outlives it."""
        for worker in self.workers:
            if worker.process is not None and worker.process.poll() is None:
                worker.process.kill()
                worker.process.wait()

    # -- the health view ---------------------------------------------------------------

    async def probe(self, worker: Worker) -> dict[str, Any]:
        """One worker's state: ok, unhealthy (its own health path says 503), unresponsive
        (no answer within ``probe_timeout``), starting, or down."""
        view = worker.view()
        if worker.state != "up":
            return {**view, "state": worker.state}
        request = f"GET {self.health_path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
        try:
            async with asyncio.timeout(self.probe_timeout):
                reader, writer = await asyncio.open_connection("127.0.0.1", worker.port)
                try:
                    writer.write(request.encode())
                    status_line = await reader.readline()
                finally:
                    writer.close()
        except TimeoutError:
            return {**view, "state": "unresponsive"}
        except OSError:
            return {**view, "state": "down"}
        parts = status_line.split()
        # A worker whose app has no health path answers 404: it is alive, which is all the
        # front can tell.
        ok = len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) < 500
        return {**view, "state": "ok" if ok else "unhealthy"}

    async def answer_health(self, head: bytes) -> bytes | None:
        """The front's answer to ``GET <health_path>[?worker=N]``; None for other requests."""
        path, query = request_target(head)
        if path != self.health_path:
            return None
        wanted = query.get("worker", [""])[0]
        if wanted:
            if not wanted.isdigit() or int(wanted) >= len(self.workers):
                return _http(404, {"error": f"no worker {wanted!r}"})
            view = await self.probe(self.workers[int(wanted)])
            return _http(200 if view["state"] == "ok" else 503, view)
        views = await asyncio.gather(*(self.probe(worker) for worker in self.workers))
        ok = all(view["state"] == "ok" for view in views)
        return _http(200 if ok else 503, {"status": "ok" if ok else "unhealthy", "workers": views})


def _http(status: int, document: dict[str, Any]) -> bytes:
    body = json.dumps(document).encode()
    reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
    ).encode() + body


# -- the front process -------------------------------------------------------------------


def run(
    target: str,
    *,
    host: str = "127.0.0.1",
    port: int = 3000,
    workers: int = 2,
    log_level: str = "info",
    log_format: str = "text",
    metrics_path: str | None = None,
    uvloop: bool | None = None,
    health_path: str = "/healthz",
    backoff: Backoff | None = None,
    listen: Listen | None = None,
    app_args: Sequence[str] = (),
    rewrite: Rewrite | None = None,
) -> int:
    """Start ``workers`` processes serving ``target`` and balance ``host:port`` over them.

    ``listen`` overrides ``host``/``port`` (a Unix socket, TLS: the front's); ``app_args``
    go to each worker (:func:`app_arguments`), and ``rewrite`` edits each request head
    before it is forwarded (:func:`aiosio.balancer.forwarding`).

    Returns the exit status: 0 after SIGINT or SIGTERM, 1 when the workers cannot start
    (an application whose startup fails: its error is in the worker's log, on this
    process's standard error).

    Raises:
        OSError: If ``host:port`` cannot be bound.
    """
    options = WorkerOptions(target, log_level, log_format, metrics_path, uvloop, tuple(app_args))
    supervisor = Supervisor(options, workers, health_path=health_path, backoff=backoff)
    where = listen or Listen(host, port)
    try:
        return asyncio.run(_front(where, supervisor, rewrite))
    finally:
        supervisor.kill()


def run_parsed(args: argparse.Namespace, **options: Any) -> int:
    """:func:`run` with what a command line parsed (``aiosio serve --workers N`` and
    ``python -m aiosio.workers``); ``options`` adds the other keywords of :func:`run`."""
    listen = listen_of(args)
    return run(
        args.target,
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level=args.log_level,
        log_format=args.log_format,
        metrics_path=args.metrics_path,
        uvloop=args.uvloop,
        listen=listen,
        app_args=app_arguments(args),
        rewrite=forwarding(args, "https" if listen.ssl is not None else "http"),
        **options,
    )


async def _front(listen: Listen, supervisor: Supervisor, rewrite: Rewrite | None) -> int:
    try:
        await supervisor.boot()
    except RuntimeError as exc:
        logger.error("%s", exc)
        await supervisor.stop()
        return 1
    balancer = StickyBalancer(
        supervisor.backends,
        available=supervisor.available,
        local=supervisor.answer_health,
        rewrite=rewrite,
    )
    supervisor.on_exit = balancer.forget
    try:
        if listen.uds is not None:
            server = await asyncio.start_unix_server(
                balancer.handle, listen.uds, limit=MAX_HEAD, ssl=listen.ssl
            )
        else:
            server = await asyncio.start_server(
                balancer.handle, listen.host, listen.port, limit=MAX_HEAD, ssl=listen.ssl
            )
    except OSError:
        await supervisor.stop()
        raise
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    bound = server.sockets[0].getsockname()[1] if listen.uds is None else listen.port
    count = len(supervisor.workers)
    url = listen.url(bound)
    logger.info("serving on %s (%d workers, pid %d)", url, count, os.getpid())
    await supervisor.watch(stop)
    logger.info("shutting down: stopping %d workers", count)
    server.close()
    await supervisor.stop()  # the workers close their clients; the pipes then end
    await balancer.shutdown(grace=5)
    logger.info("stopped")
    return 0


# -- a worker process --------------------------------------------------------------------


def _run_worker(args: argparse.Namespace) -> int:
    """Serve the target on the private port until SIGTERM (the front's), or the front is
    gone; return the exit status (3: the application's startup failed).

    SIGINT is ignored: a Ctrl-C in a terminal reaches the whole process group, and the front
    is the one that tells its workers to stop.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    served = find_served(load_target(args.target))
    if served is not None and served.app is not None:
        io = served.io  # an application with Socket.IO inside: served as aiosio serve does
        front, lifespan = app_settings(io, served.app, served.prefix, args)
    else:
        io, front, lifespan = load_server(args.target), None, None
    if args.metrics_path:
        from aiosio import metrics

        metrics.enable(io, args.metrics_path)
    serving = _serve_worker(io, args.worker_port, args.worker_index, front, lifespan)
    try:
        if args.uvloop is not False and importlib.util.find_spec("uvloop") is not None:
            import uvloop

            uvloop.run(serving)
        else:
            asyncio.run(serving)
    except LifespanError as exc:
        logger.error("worker %d: application startup failed: %s", args.worker_index, exc)
        return 3
    return 0


async def _serve_worker(
    io: Any, port: int, index: int, front: Any = None, lifespan: Any = None
) -> None:
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, io.stop)
    orphaned = loop.create_task(_stop_when_orphaned(io, index))

    def ready(url: str) -> None:
        freeze_after_startup()  # as io.run() does: start-up's objects are never walked again
        logger.info("worker %d listening on %s (pid %d)", index, url[7:], os.getpid())

    try:
        await run_server(
            io,
            Listen("127.0.0.1", port),
            front=front,
            lifespan=lifespan,
            ready=ready,
            signals=False,
            announce=False,
        )
    finally:
        orphaned.cancel()
    logger.info("worker %d stopped", index)


async def _stop_when_orphaned(io: Any, index: int) -> None:
    parent = os.getppid()
    while os.getppid() == parent:  # noqa: ASYNC110 (a parent's death sets no event)
        await asyncio.sleep(1)
    logger.warning("worker %d: the front process is gone; stopping", index)
    io.stop()


def make_parser() -> argparse.ArgumentParser:
    """The arguments of ``python -m aiosio.workers`` (the front and, hidden, a worker)."""
    parser = argparse.ArgumentParser(prog="python -m aiosio.workers", description=__doc__)
    parser.add_argument("target", help="pkg.module:attribute naming an aiosio.Server")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--log-level", choices=LEVELS, default="info")
    parser.add_argument("--log-format", choices=("text", "json"), default="text")
    parser.add_argument("--metrics-path", help="Prometheus metrics in each worker (?worker=N)")
    parser.add_argument("--health-path", default="/healthz", help="the front's health view")
    parser.add_argument(
        "--restart-delay", type=float, default=1.0, help="first restart delay, doubling (1 s)"
    )
    parser.add_argument("--uvloop", action=argparse.BooleanOptionalAction, default=None)
    add_app_options(parser)
    parser.add_argument("--worker-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--worker-index", type=int, default=0, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m aiosio.workers pkg.mod:io --workers N --host H --port P``."""
    args = make_parser().parse_args(argv)
    configure(args.log_level, args.log_format)
    if args.worker_port is not None:
        sys.path.insert(0, "")
        return _run_worker(args)
    try:
        return run_parsed(
            args, health_path=args.health_path, backoff=Backoff(first=args.restart_delay)
        )
    except OSError as exc:
        logger.error("cannot serve on %s:%s: %s", args.host, args.port, exc)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
