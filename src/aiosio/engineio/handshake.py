"""Checks on an incoming Engine.IO request, in the reference server's order.

The JS server refuses a request with status 400 (403 for ``allowRequest``) and a JSON body
``{"code":N,"message":"..."}``; the order of its checks decides which code a request with
several faults gets, so we follow it exactly (docs/protocol-notes.md, "Refusals").
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Collection, Mapping, Sequence

import orjson

__all__ = ["HTTPError", "RequestError", "check_request", "error_body"]


class RequestError(enum.IntEnum):
    """Engine.IO error codes of the HTTP answers."""

    UNKNOWN_TRANSPORT = 0
    UNKNOWN_SID = 1
    BAD_HANDSHAKE_METHOD = 2
    BAD_REQUEST = 3
    FORBIDDEN = 4
    UNSUPPORTED_PROTOCOL_VERSION = 5


_MESSAGES = {
    RequestError.UNKNOWN_TRANSPORT: "Transport unknown",
    RequestError.UNKNOWN_SID: "Session ID unknown",
    RequestError.BAD_HANDSHAKE_METHOD: "Bad handshake method",
    RequestError.BAD_REQUEST: "Bad request",
    RequestError.FORBIDDEN: "Forbidden",
    RequestError.UNSUPPORTED_PROTOCOL_VERSION: "Unsupported protocol version",
}


class HTTPError(Exception):
    """An HTTP refusal: status, and a body that is JSON for Engine.IO errors."""

    def __init__(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json",
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers  # more headers of the answer (``Retry-After``)

    @classmethod
    def from_code(cls, code: RequestError, message: str | None = None) -> HTTPError:
        """The reference answer for an Engine.IO error code."""
        status = 403 if code is RequestError.FORBIDDEN else 400
        return cls(status, error_body(code, message))


def error_body(code: RequestError, message: str | None = None) -> bytes:
    """``{"code":N,"message":"..."}`` as the JS server writes it."""
    return orjson.dumps({"code": int(code), "message": message or _MESSAGES[code]})


def check_request(
    method: str,
    query: Mapping[str, str],
    *,
    is_upgrade: bool,
    transports: Collection[str],
    session_transport: Callable[[str], str | None],
) -> RequestError | None:
    """Return the first fault of a request, or None when it may proceed.

    Args:
        method: The HTTP method.
        query: The query string parameters (extra ones such as ``t`` are ignored).
        is_upgrade: Whether the request asks for a WebSocket upgrade.
        transports: The transports this server allows.
        session_transport: Looks a sid up: the session's current transport, or None.
    """
    transport = query.get("transport")
    # WebTransport never comes over HTTP/1.1: its sessions open on the HTTP/3 endpoint.
    if transport is None or transport not in transports or transport == "webtransport":
        return RequestError.UNKNOWN_TRANSPORT
    sid = query.get("sid")
    if sid is not None:
        current = session_transport(sid)
        if current is None:
            return RequestError.UNKNOWN_SID
        # The only change of transport allowed is the upgrade from polling to WebSocket.
        if current != transport and not (current == "polling" and transport == "websocket"):
            return RequestError.BAD_REQUEST
        if transport == "websocket" and not is_upgrade:
            return RequestError.BAD_REQUEST
        return None
    if method != "GET":
        return RequestError.BAD_HANDSHAKE_METHOD
    if transport == "websocket" and not is_upgrade:
        return RequestError.BAD_REQUEST
    if query.get("EIO") != "4":
        return RequestError.UNSUPPORTED_PROTOCOL_VERSION
    return None
