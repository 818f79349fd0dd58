"""Sans-I/O opening handshake of WebSocket (RFC 6455, section 4): the HTTP Upgrade.

The server checks ``Sec-WebSocket-Key`` and answers with :func:`accept_key`; our client
builds its request with :func:`client_handshake_request` and checks the answer with
:func:`check_server_response`. Framing is in :mod:`aiosio.websocket`, which re-exports
these names.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping

from aiosio.exceptions import LocalProtocolError, RemoteProtocolError

__all__ = ["accept_key", "check_key", "check_server_response", "client_handshake_request"]

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # section 1.3
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 token, for header names
_VISIBLE = re.compile(r"[\x21-\x7e]+")  # no spaces or controls: the request line stays one line
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")  # no CR/LF: no header injection
_SET_BY_US = frozenset(
    {"host", "upgrade", "connection", "sec-websocket-key", "sec-websocket-version"}
)


def accept_key(key: str) -> str:
    """Return the ``Sec-WebSocket-Accept`` value that answers ``Sec-WebSocket-Key``.

    It proves to the client that the server read its handshake (section 4.2.2, step 5.4).
    """
    digest = hashlib.sha1(key.encode("ascii") + _GUID).digest()
    return base64.b64encode(digest).decode("ascii")


def check_key(key: str) -> bool:
    """Tell whether ``key`` is a valid ``Sec-WebSocket-Key``: base64 of 16 bytes (section 4.1)."""
    try:
        return len(base64.b64decode(key, validate=True)) == 16
    except ValueError:  # binascii.Error, or non-ASCII characters in a str
        return False


def client_handshake_request(
    host: str, path: str, key: str, extra_headers: list[tuple[str, str]]
) -> bytes:
    """Build our client's opening handshake (section 4.1).

    ``path`` is the percent-encoded target with its query; ``key`` is base64 of 16 random
    bytes drawn by the caller; ``extra_headers`` (cookies, auth) are sent in order.

    Raises:
        LocalProtocolError: If a value would break the request (CR/LF injection, spaces in
            the target, a bad key) or a header repeats one that this function sets.
    """
    if not (_VISIBLE.fullmatch(path) and path.startswith("/") and _VISIBLE.fullmatch(host)):
        raise LocalProtocolError(f"invalid host or path: {host!r} {path!r}")
    if not check_key(key):
        raise LocalProtocolError(f"invalid Sec-WebSocket-Key: {key!r}")
    request = (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
    )
    for name, value in extra_headers:
        if not (_TOKEN.fullmatch(name) and _FIELD_VALUE.fullmatch(value)):
            raise LocalProtocolError(f"invalid header: {name!r}: {value!r}")
        if name.lower() in _SET_BY_US:
            raise LocalProtocolError(f"header {name!r} is set by the handshake itself")
        request += f"{name}: {value}\r\n"
    return (request + "\r\n").encode("latin-1")


def check_server_response(status: int, headers: Mapping[str, str], key: str) -> None:
    """Check the server's answer to :func:`client_handshake_request` (section 4.2.2).

    Header names are matched case-insensitively. Our request offers no extension and no
    subprotocol, so a response that selects one is refused, as the section requires.

    Raises:
        RemoteProtocolError: If the server did not accept a WebSocket connection correctly.
    """
    if status != 101:
        raise RemoteProtocolError(f"expected status 101, got {status}")
    lower = {name.lower(): value for name, value in headers.items()}
    if lower.get("upgrade", "").strip().lower() != "websocket":
        raise RemoteProtocolError("missing or invalid Upgrade header")
    tokens = {token.strip().lower() for token in lower.get("connection", "").split(",")}
    if "upgrade" not in tokens:
        raise RemoteProtocolError("missing or invalid Connection header")
    if lower.get("sec-websocket-accept", "").strip() != accept_key(key):
        raise RemoteProtocolError("invalid Sec-WebSocket-Accept header")
    for name in ("sec-websocket-extensions", "sec-websocket-protocol"):
        if lower.get(name, "").strip():
            raise RemoteProtocolError(f"server selected a {name} we did not offer")
