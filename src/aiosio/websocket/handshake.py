"""Sans-I/O opening handshake of WebSocket (RFC 6455, section 4): the HTTP Upgrade.

The server checks ``Sec-WebSocket-Key`` and answers with :func:`accept_key`; our client
builds its request with :func:`client_handshake_request` and checks the answer with
:func:`check_server_response`. Framing is in
:mod:`aiosio.websocket.frames`.

The negotiation of permessage-deflate (RFC 7692, sections 5 and 7.1) is here too: the
server answers a client's offer with :func:`negotiate_deflate`; a client builds its offer
with :func:`deflate_offer` and checks the answer with :func:`accept_deflate` (or
``check_server_response(..., extensions=offer)``). Both ends get the agreed
:class:`DeflateParameters`; the codec that uses them is :mod:`aiosio.websocket.deflate`.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from aiosio.exceptions import LocalProtocolError, RemoteProtocolError

__all__ = [
    "DeflateParameters",
    "accept_deflate",
    "accept_key",
    "check_key",
    "check_server_response",
    "client_handshake_request",
    "deflate_offer",
    "negotiate_deflate",
    "parse_extensions",
]

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


def check_server_response(
    status: int, headers: Mapping[str, str], key: str, *, extensions: str | None = None
) -> DeflateParameters | None:
    """Check the server's answer to :func:`client_handshake_request` (section 4.2.2).

    Header names are matched case-insensitively. Our request offers no subprotocol, and no
    extension unless ``extensions`` (the ``Sec-WebSocket-Extensions`` value we sent, from
    :func:`deflate_offer`) is given: a response that selects anything else is refused, as
    the section requires.

    Returns:
        The agreed permessage-deflate parameters, or None if the server declined the offer
        (or none was made).

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
    if lower.get("sec-websocket-protocol", "").strip():
        raise RemoteProtocolError("server selected a sec-websocket-protocol we did not offer")
    answer = lower.get("sec-websocket-extensions", "").strip()
    if not answer:
        return None
    if extensions is None:
        raise RemoteProtocolError("server selected a sec-websocket-extensions we did not offer")
    return accept_deflate(answer, extensions)


# --- permessage-deflate negotiation (RFC 7692) ---------------------------------------------

_TOKEN_RE = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_SKIP = re.compile(r"[ \t,]*")  # empty list elements are allowed (RFC 9110, section 5.6.1)
_NAME = re.compile(rf"[ \t]*({_TOKEN_RE})[ \t]*")
_PARAM = re.compile(
    rf'[ \t]*({_TOKEN_RE})[ \t]*(?:=[ \t]*(?:({_TOKEN_RE})|"((?:[^"\\]|\\.)*)")[ \t]*)?'
)
_ESCAPE = re.compile(r"\\(.)")
_BITS = re.compile(r"[1-9][0-9]?")  # 8 to 15, no leading zeros (RFC 7692, section 7.1.2)
_DEFLATE = "permessage-deflate"
_FLAGS = ("server_no_context_takeover", "client_no_context_takeover")
_SERVER_BITS = "server_max_window_bits"
_CLIENT_BITS = "client_max_window_bits"

#: One extension of ``Sec-WebSocket-Extensions``: its name and its ``(name, value)``
#: parameters in order, ``value`` None for a parameter without one.
Extension = tuple[str, list[tuple[str, str | None]]]


def parse_extensions(value: str) -> list[Extension]:
    """Parse a ``Sec-WebSocket-Extensions`` value (RFC 6455, section 9.1).

    Names are lower-cased; quoted-string values are unescaped.

    Raises:
        RemoteProtocolError: If ``value`` does not follow the grammar.
    """
    extensions: list[Extension] = []
    pos = _SKIP.match(value).end()  # type: ignore[union-attr]
    end = len(value)
    while pos < end:
        match = _NAME.match(value, pos)
        if match is None:
            raise RemoteProtocolError(f"invalid Sec-WebSocket-Extensions: {value!r}")
        params: list[tuple[str, str | None]] = []
        pos = match.end()
        while pos < end and value[pos] == ";":
            param = _PARAM.match(value, pos + 1)
            if param is None:
                raise RemoteProtocolError(f"invalid Sec-WebSocket-Extensions: {value!r}")
            name, token, quoted = param.groups()
            text = token if quoted is None else _ESCAPE.sub(r"\1", quoted)
            params.append((name.lower(), text))
            pos = param.end()
        if pos < end and value[pos] != ",":
            raise RemoteProtocolError(f"invalid Sec-WebSocket-Extensions: {value!r}")
        extensions.append((match.group(1).lower(), params))
        pos = _SKIP.match(value, pos).end()  # type: ignore[union-attr]
    return extensions


@dataclass(frozen=True, slots=True)
class DeflateParameters:
    """permessage-deflate as agreed for one connection (RFC 7692, section 7.1).

    Window sizes are in bits (a window of ``2 ** bits`` bytes). The server's ones bound what
    the server compresses with (its messages are decompressed by the client), the client's
    what the client compresses with.
    """

    server_no_context_takeover: bool = False
    client_no_context_takeover: bool = False
    server_max_window_bits: int = 15
    client_max_window_bits: int = 15


def _window_bits(value: str | None) -> int | None:
    if value is None or not _BITS.fullmatch(value) or not 8 <= int(value) <= 15:
        return None
    return int(value)


def _deflate_params(params: list[tuple[str, str | None]]) -> dict[str, int | None] | None:
    """The parameters of one permessage-deflate offer or answer; None if one is invalid.

    A flag has no value; ``server_max_window_bits`` has one; ``client_max_window_bits`` may
    have one (None then). Unknown and repeated parameters are invalid (section 7.1).
    """
    found: dict[str, int | None] = {}
    for name, value in params:
        if name in found:
            return None
        if name in _FLAGS:
            if value is not None:
                return None
            found[name] = None
        elif name in (_SERVER_BITS, _CLIENT_BITS):
            bits = _window_bits(value)
            if bits is None and (value is not None or name == _SERVER_BITS):
                return None
            found[name] = bits
        else:
            return None
    return found


def negotiate_deflate(
    offers: str,
    *,
    server_max_window_bits: int = 15,
    client_max_window_bits: int | None = None,
    client_no_context_takeover: bool = False,
) -> tuple[str, DeflateParameters] | None:
    """Accept the first acceptable permessage-deflate offer of a client, as a server.

    The answer always holds ``server_no_context_takeover`` (the server may add it, section
    7.1.1.1): each message is then compressed on its own, so a compressed frame is the
    same for every client and a broadcast is compressed once.

    Args:
        offers: The client's ``Sec-WebSocket-Extensions`` value.
        server_max_window_bits: The window we compress with (9 to 15), lowered to what the
            client allows. zlib cannot compress with 8, so an offer that asks for 8 is
            declined.
        client_max_window_bits: Ask clients that allow it to compress with a window of at
            most this many bits (saves memory here); None to leave them at 15.
        client_no_context_takeover: Ask clients to compress each message on its own, so
            that no decompressor is kept between messages.

    Returns:
        The ``Sec-WebSocket-Extensions`` answer and the agreed parameters, or None when no
        offer is acceptable (malformed headers included): the connection then goes on
        without compression.
    """
    try:
        extensions = parse_extensions(offers)
    except RemoteProtocolError:
        return None
    for name, params in extensions:
        offer = _deflate_params(params) if name == _DEFLATE else None
        if offer is None:
            continue
        answer = [_DEFLATE, "server_no_context_takeover"]
        client_flag = client_no_context_takeover or "client_no_context_takeover" in offer
        if client_flag:
            answer.append("client_no_context_takeover")
        server_bits = server_max_window_bits
        if _SERVER_BITS in offer:
            server_bits = min(server_bits, offer[_SERVER_BITS] or 15)
            if server_bits < 9:
                continue
            answer.append(f"{_SERVER_BITS}={server_bits}")
        client_bits = 15
        if _CLIENT_BITS in offer:
            # The answer may carry it only when the offer did (section 7.1.2.2).
            client_bits = min(offer[_CLIENT_BITS] or 15, client_max_window_bits or 15)
            if client_bits < 15:
                answer.append(f"{_CLIENT_BITS}={client_bits}")
        parameters = DeflateParameters(True, client_flag, server_bits, client_bits)
        return "; ".join(answer), parameters
    return None


def deflate_offer(
    *,
    client_max_window_bits: int | None = None,
    server_max_window_bits: int | None = None,
    client_no_context_takeover: bool = False,
    server_no_context_takeover: bool = False,
) -> str:
    """The ``Sec-WebSocket-Extensions`` value of a client offering permessage-deflate.

    The offer always holds ``client_max_window_bits`` (with the given value, else none):
    our compressor can use whatever window the server asks for.

    Raises:
        LocalProtocolError: If a window is not 8 to 15 bits (9 to 15 for our own).
    """
    params = [_DEFLATE]
    if client_no_context_takeover:
        params.append("client_no_context_takeover")
    if server_no_context_takeover:
        params.append("server_no_context_takeover")
    if server_max_window_bits is not None:
        if not 8 <= server_max_window_bits <= 15:
            raise LocalProtocolError("server_max_window_bits is 8 to 15")
        params.append(f"{_SERVER_BITS}={server_max_window_bits}")
    if client_max_window_bits is None:
        params.append(_CLIENT_BITS)
    elif 9 <= client_max_window_bits <= 15:
        params.append(f"{_CLIENT_BITS}={client_max_window_bits}")
    else:
        raise LocalProtocolError("client_max_window_bits is 9 to 15 (zlib cannot use 8)")
    return "; ".join(params)


def accept_deflate(answer: str, offer: str) -> DeflateParameters:
    """Check a server's ``Sec-WebSocket-Extensions`` answer to our ``offer`` (section 5).

    The answer must fit one of the permessage-deflate offers that ``offer`` lists.

    Raises:
        RemoteProtocolError: If the answer selects anything but one permessage-deflate, or
            parameters that none of our offers allows (section 7.1).
    """
    extensions = parse_extensions(answer)
    if len(extensions) != 1 or extensions[0][0] != _DEFLATE:
        raise RemoteProtocolError(f"server selected extensions we did not offer: {answer!r}")
    got = _deflate_params(extensions[0][1])
    if got is None:
        raise RemoteProtocolError(f"invalid permessage-deflate answer: {answer!r}")
    error = f"no offer allows the answer {answer!r}"
    for name, params in parse_extensions(offer):
        asked = _deflate_params(params) if name == _DEFLATE else None
        if asked is not None:
            error = _misfit(got, asked) or ""
            if not error:
                return _agreed(got)
    raise RemoteProtocolError(error)


def _misfit(got: dict[str, int | None], asked: dict[str, int | None]) -> str | None:
    """Why an answer does not fit an offer (section 7.1); None if it does."""
    if "server_no_context_takeover" in asked and "server_no_context_takeover" not in got:
        return "server ignored server_no_context_takeover"
    if _SERVER_BITS in asked and (got.get(_SERVER_BITS) or 16) > (asked[_SERVER_BITS] or 15):
        return "server_max_window_bits missing or over what we offered"
    if _CLIENT_BITS in got:
        bits = got[_CLIENT_BITS]
        if _CLIENT_BITS not in asked or bits is None or bits > (asked[_CLIENT_BITS] or 15):
            return "client_max_window_bits we did not offer"
    return None


def _agreed(got: dict[str, int | None]) -> DeflateParameters:
    # zlib compresses with 9 bits at least, and a 9-bit window fits a limit of 8.
    return DeflateParameters(
        "server_no_context_takeover" in got,
        "client_no_context_takeover" in got,
        got.get(_SERVER_BITS) or 15,
        max(got.get(_CLIENT_BITS) or 15, 9),
    )
