"""HTTP for the engine: the request and answer types the front doors exchange with it,
CORS, the session cookie, and the compression of long-polling answers.

Sans-I/O: the front doors (``aiosio.serve``, ``aiosio.asgi``) parse and write HTTP; this
module holds what both need to agree on.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiosio.engineio.handshake import HTTPError, RequestError, error_body

__all__ = [
    "HTTPCompression",
    "HTTPRequest",
    "HTTPResponse",
    "check_origin",
    "choose_encoding",
    "cors_headers",
    "error_response",
    "parse_query",
    "poll_headers",
    "set_cookie",
    "shared_strings",
]

TEXT_PLAIN = "text/plain; charset=UTF-8"


@dataclass(slots=True)
class HTTPRequest:
    """What the engine needs of an HTTP request; the front doors build it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes = b""
    client: tuple[str, int] | None = None
    scheme: str = "http"
    raw_query: str = ""
    new_sid: str | None = None  # chosen before a WebSocket-only session opens (its cookie)
    scope: Mapping[str, Any] | None = None  # the ASGI scope, under the ASGI front door


@dataclass(slots=True)
class HTTPResponse:
    """An HTTP answer for a front door to write."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    compress: bool = True  # False when every packet in it was sent with compress(False)


def cors_headers(
    allowed: str | Sequence[str] | None, credentials: bool, request: HTTPRequest
) -> list[tuple[str, str]]:
    """CORS headers for a response; none unless ``cors_allowed_origins`` is set."""
    origin = request.headers.get("origin")
    if allowed is None or origin is None:
        return []
    if allowed != "*" and origin not in allowed:
        return []
    headers = [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
    if credentials:
        headers.append(("Access-Control-Allow-Credentials", "true"))
    return headers


def check_origin(allowed: str | Sequence[str] | None, request: HTTPRequest) -> HTTPError | None:
    """Refuse a cross-origin request that ``cors_allowed_origins`` does not allow.

    This guards WebSocket upgrades too (cross-site WebSocket hijacking).
    """
    origin = request.headers.get("origin")
    if allowed is None or allowed == "*" or origin is None or origin in allowed:
        return None
    message = f"Origin {origin!r} is not allowed; add it to cors_allowed_origins"
    return HTTPError(400, error_body(RequestError.BAD_REQUEST, message))


def set_cookie(option: bool | str | Mapping[str, Any] | None, sid: str) -> str | None:
    """The ``Set-Cookie`` value for a new session, per the ``cookie`` option."""
    if not option:
        return None
    # The reference server's defaults for ``cookie: true``.
    settings: dict[str, Any] = {"name": "io", "path": "/", "httponly": True, "samesite": "Lax"}
    if isinstance(option, str):
        settings["name"] = option
    elif isinstance(option, Mapping):
        settings.update(option)
    parts = [f"{settings['name']}={sid}", f"Path={settings['path']}"]
    if settings.get("httponly"):
        parts.append("HttpOnly")
    if settings.get("samesite"):
        parts.append(f"SameSite={settings['samesite']}")
    if settings.get("secure"):
        parts.append("Secure")
    return "; ".join(parts)


def poll_headers() -> list[tuple[str, str]]:
    # Polling answers must never be cached (docs/protocol-notes.md, "Polling responses").
    return [("Content-Type", TEXT_PLAIN), ("Cache-Control", "no-store")]


def error_response(error: HTTPError) -> HTTPResponse:
    return HTTPResponse(
        error.status, error.body, [("Content-Type", error.content_type), *error.headers]
    )


# --- HTTP content codings (RFC 9110, section 8.4.1) ------------------------------------------

_CODINGS = ("gzip", "deflate")  # ours, in order of preference on a tie


@functools.lru_cache(maxsize=64)  # browsers send the same few values on every poll
def choose_encoding(accept_encoding: str) -> str | None:
    """The content coding to answer with: gzip or deflate, whichever ``Accept-Encoding``
    weighs more (gzip on a tie), or None if it accepts neither (RFC 9110, section 12.5.3).
    """
    weights: dict[str, float] = {}
    for element in accept_encoding.lower().split(","):
        name, _, params = element.partition(";")
        weight = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                weight = float(params[2:])
            except ValueError:
                weight = 0.0
        weights[name.strip()] = weight
    star = weights.get("*", 0.0)
    best: str | None = None
    best_weight = 0.0
    for coding in _CODINGS:
        weight = weights.get(coding, star)
        if weight > best_weight:
            best, best_weight = coding, weight
    return best


class HTTPCompression:
    """Compression of HTTP answers (the ``http_compression`` option).

    Args:
        threshold: Bodies under this many bytes are sent as they are (Node's default).
        level: zlib compression level (-1 for zlib's default).
    """

    __slots__ = ("level", "threshold")

    def __init__(self, *, threshold: int = 1024, level: int = zlib.Z_DEFAULT_COMPRESSION) -> None:
        self.threshold = threshold
        self.level = level

    def encode(self, body: bytes, encoding: str) -> bytes:
        """``body`` in the ``encoding`` that :func:`choose_encoding` chose.

        gzip carries no file name and a zero timestamp, so an answer is reproducible;
        deflate is the zlib format, as RFC 9110 defines that coding.
        """
        wbits = 31 if encoding == "gzip" else 15  # 16 + 15: a gzip wrapper
        compressor = zlib.compressobj(self.level, zlib.DEFLATED, wbits)
        return compressor.compress(body) + compressor.flush()


def parse_query(raw: str) -> dict[str, str]:
    """``dict(parse_qsl(raw, keep_blank_values=True))``, without its work when nothing in
    ``raw`` is escaped (the Engine.IO query strings): same pairs, the last one winning."""
    if "%" in raw or "+" in raw:
        return dict(parse_qsl(raw, keep_blank_values=True))
    query = {}
    for pair in raw.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            query[name] = value
    return query


# Strings a connection keeps for its life (the names and the common values of its
# handshake's headers and query) that repeat from client to client, held once for all:
# five headers and the query's words held as copies of their own cost an idle WebSocket
# about 650 bytes. Shared when a session opens (server/connection.py), not as every
# request is parsed (a polling round parses two). Bounded: names or values a client makes
# up must not grow it without end; past the bound, strings stay as they came.
_SHARED: dict[str, str] = {}
_SHARED_MAX = 1024
_SHARED_VALUES = frozenset(
    (
        *("accept", "accept-encoding", "accept-language", "cache-control", "connection"),
        *("content-type", "host", "origin", "pragma", "sec-websocket-extensions"),
        *("sec-websocket-version", "upgrade", "user-agent", "EIO", "transport"),
    )
)


def shared_strings(strings: dict[str, str]) -> dict[str, str]:
    """``strings`` (headers or a query) with the strings that repeat from client to client
    replaced by one equal string held for all: every name, and the values of the names
    whose values repeat (``Host``, ``User-Agent``, ``EIO``...), never a key or an id.

    Args:
        strings: Names and values, as parsed.

    Returns:
        An equal dict, or ``strings`` itself once the shared table is full.
    """
    table = _SHARED
    if len(table) >= _SHARED_MAX:
        return strings
    kept = {}
    for name, value in strings.items():
        name = table.setdefault(name, name)
        kept[name] = table.setdefault(value, value) if name in _SHARED_VALUES else value
    return kept
