"""The bytes of HTTP/1.1 answers, and query strings: the standalone door's codecs
(``parse_query`` lives with the engine's HTTP types: the ASGI door uses it too).

Apart from :mod:`aiosio.serve.http` so that its Protocol reads as the state machine it is;
plain functions (no I/O), on the polling hot path, hence the caches and shortcuts.
"""

from __future__ import annotations

from http import HTTPStatus

from aiosio.server.http import HTTPResponse, parse_query

__all__ = ["encode_response", "parse_query", "reason", "status_line"]

# Looked up, not made: HTTPStatus(status) is an Enum call, a few thousand instructions on
# every response the app sends.
_PHRASES = {status.value: status.phrase for status in HTTPStatus}
_STATUS_LINES = {code: b"HTTP/1.1 %d %s" % (code, text.encode()) for code, text in _PHRASES.items()}


def reason(status: int) -> str:
    """The reason phrase of ``status`` ("Unknown" for a code HTTP does not name).

    Args:
        status: An HTTP status code.

    Returns:
        The phrase, as in ``HTTP/1.1 404 Not Found``.
    """
    return _PHRASES.get(status, "Unknown")


def status_line(status: int) -> bytes:
    """``HTTP/1.1 <status> <reason>``, without the line end.

    Args:
        status: An HTTP status code.

    Returns:
        The status line's bytes.
    """
    line = _STATUS_LINES.get(status)
    return line if line is not None else b"HTTP/1.1 %d Unknown" % status


# Response heads up to the Content-Length value, by (status, headers, keep-alive): the
# polling answers repeat a handful of them. Bounded: headers that vary (a cookie with the
# sid, a CORS origin) must not grow it without end.
_HEADS: dict[tuple[int, tuple[tuple[str, str], ...], bool], bytes] = {}
_MAX_HEADS = 256


def encode_response(response: HTTPResponse, *, keep_alive: bool) -> bytes:
    """The bytes of an HTTP/1.1 response."""
    body = response.body
    key = (response.status, tuple(response.headers), keep_alive)
    head = _HEADS.get(key)
    if head is None:
        lines = [f"HTTP/1.1 {response.status} {reason(response.status)}"]
        lines.extend(f"{name}: {value}" for name, value in response.headers)
        lines.append("Content-Length: ")
        head = "\r\n".join(lines).encode("latin-1")
        if len(_HEADS) >= _MAX_HEADS:
            _HEADS.clear()
        _HEADS[key] = head
    if keep_alive:
        return b"%s%d\r\n\r\n%s" % (head, len(body), body)
    return b"%s%d\r\nConnection: close\r\n\r\n%s" % (head, len(body), body)
