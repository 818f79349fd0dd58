"""Prometheus metrics of a server, in the text exposition format (version 0.0.4).

Nothing is counted here: the engine and the standalone front door keep plain integer
counters all the time (:class:`aiosio.server.stats.Counters`), and the gauges (sockets,
rooms, sessions) are read from the live tables when the page is scraped. So a scrape costs
a walk over the namespaces, and serving costs nothing more than it did.

    io = aiosio.Server()
    aiosio.metrics.enable(io, path="/metrics")

Metric names follow the Prometheus conventions (``_total`` for counters, base units).
``aiosio_bytes_*`` count what the standalone server read and wrote on client connections,
HTTP and WebSocket framing included; behind an ASGI server they stay at 0 (that server
owns the sockets).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from aiosio.server.http import HTTPRequest, HTTPResponse

if TYPE_CHECKING:
    from aiosio.app import Server

__all__ = ["CONTENT_TYPE", "enable", "render"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The Content-Type of the metrics page: Prometheus' text exposition format 0.0.4."""


def _escape(value: str) -> str:
    """A label value as the text format wants it (backslash, quote and newline escaped)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _family(name: str, kind: str, help_text: str) -> Iterator[str]:
    yield f"# HELP {name} {help_text}"
    yield f"# TYPE {name} {kind}"


def _namespace_lines(io: Server) -> Iterator[str]:
    namespaces = sorted(io.namespaces.values(), key=lambda namespace: namespace.name)
    yield from _family("aiosio_connected_sockets", "gauge", "Sockets connected, per namespace.")
    for namespace in namespaces:
        label = _escape(namespace.name)
        yield f'aiosio_connected_sockets{{namespace="{label}"}} {len(namespace.sockets)}'
    yield from _family(
        "aiosio_rooms", "gauge", "Rooms with members, per namespace (sockets' own rooms excluded)."
    )
    for namespace in namespaces:
        rooms: dict[str, set[str]] = getattr(namespace.adapter, "rooms", {})
        sockets = namespace.sockets
        count = sum(1 for room in rooms if room not in sockets)
        yield f'aiosio_rooms{{namespace="{_escape(namespace.name)}"}} {count}'


def _engine_lines(io: Server) -> Iterator[str]:
    engine = io.engine
    stats = engine.stats
    transports = {"polling": 0, "websocket": 0}
    for session in engine.sessions.values():
        transports[session.transport] = transports.get(session.transport, 0) + 1
    yield from _family("aiosio_engine_sessions", "gauge", "Engine.IO sessions open, per transport.")
    for transport, count in sorted(transports.items()):
        yield f'aiosio_engine_sessions{{transport="{_escape(transport)}"}} {count}'
    yield from _family(
        "aiosio_engine_sessions_opened_total", "counter", "Engine.IO sessions opened."
    )
    yield f"aiosio_engine_sessions_opened_total {stats.sessions_opened}"
    yield from _family(
        "aiosio_engine_sessions_closed_total", "counter", "Engine.IO sessions closed, per reason."
    )
    for reason, count in sorted(stats.sessions_closed.items()):
        yield f'aiosio_engine_sessions_closed_total{{reason="{_escape(reason)}"}} {count}'
    yield from _family(
        "aiosio_handshakes_refused_total",
        "counter",
        "Handshakes and connections refused by admission, per rule.",
    )
    for rule, count in sorted(stats.refused.items()):
        yield f'aiosio_handshakes_refused_total{{reason="{_escape(rule)}"}} {count}'
    yield from _family(
        "aiosio_events_limited_total", "counter", "Client events over a rate limit, per action."
    )
    for action, count in sorted(stats.limited.items()):
        yield f'aiosio_events_limited_total{{action="{_escape(action)}"}} {count}'
    counters = (
        ("aiosio_packets_received_total", "Engine.IO packets received.", stats.packets_in),
        ("aiosio_packets_sent_total", "Engine.IO packets sent.", stats.packets_out),
        ("aiosio_bytes_received_total", "Bytes read from clients.", stats.bytes_in),
        ("aiosio_bytes_sent_total", "Bytes written to clients.", stats.bytes_out),
    )
    for name, help_text, value in counters:
        yield from _family(name, "counter", help_text)
        yield f"{name} {value}"


def render(io: Server) -> str:
    """The metrics of ``io`` as a Prometheus text page.

    Args:
        io: The server whose counters and gauges are read.

    Returns:
        The page, in the Prometheus text exposition format (``CONTENT_TYPE``).
    """
    lines = [*_namespace_lines(io), *_engine_lines(io)]
    now = time.time()
    lines.extend(_family("aiosio_scrape_timestamp_seconds", "gauge", "When this page was made."))
    lines.append(f"aiosio_scrape_timestamp_seconds {now:.3f}")
    return "\n".join(lines) + "\n"


def enable(io: Server, path: str = "/metrics") -> None:
    """Serve the metrics of ``io`` at ``path`` (either front door).

    Args:
        io: The server to measure and serve from.
        path: The HTTP path of the page.

    Raises:
        ValueError: If ``path`` is not absolute or is under the Socket.IO path.
    """
    router = io.router
    if not path.startswith("/") or router.is_engine_path(path) or path.startswith(router.path):
        raise ValueError(f"cannot serve metrics at {path!r}")

    def metrics_page(request: HTTPRequest) -> HTTPResponse:
        if request.method not in ("GET", "HEAD"):
            return HTTPResponse(405, b"Method Not Allowed", [("Allow", "GET, HEAD")])
        body = render(io).encode()
        headers = [("Content-Type", CONTENT_TYPE), ("Cache-Control", "no-store")]
        return HTTPResponse(200, b"" if request.method == "HEAD" else body, headers)

    router.routes[path] = metrics_page
