"""Tests for aiosio.upgrade: the WebSocket opening handshake (RFC 6455, section 4)."""

from __future__ import annotations

import pytest

from aiosio import upgrade, websocket
from aiosio.exceptions import LocalProtocolError, RemoteProtocolError
from aiosio.upgrade import (
    accept_key,
    check_key,
    check_server_response,
    client_handshake_request,
)


def test_accept_key_section_1_3() -> None:
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


@pytest.mark.parametrize(
    ("key", "valid"),
    [
        ("dGhlIHNhbXBsZSBub25jZQ==", True),
        ("dGhlIHNhbXBsZSBub25jZQ", False),  # padding missing
        ("dGhlIHNhbXBsZSBub25jZWVl", False),  # 18 bytes
        ("dGhlIHNhbXBsZSBub25j!Q==", False),  # not base64
        ("dGhlIHNhbXBsZSBub25jZé==", False),  # not ASCII
        ("", False),
    ],
)
def test_check_key_section_4_1(key: str, valid: bool) -> None:
    assert check_key(key) is valid


KEY = "dGhlIHNhbXBsZSBub25jZQ=="
GOOD_RESPONSE = {
    "Upgrade": "websocket",
    "Connection": "Upgrade",
    "Sec-WebSocket-Accept": "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
}


def test_client_handshake_request_section_4_1() -> None:
    request = client_handshake_request(
        "example.com:8080", "/socket.io/?EIO=4&transport=websocket", KEY, [("Cookie", "a=b")]
    )
    assert request == (
        b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n"
        b"Host: example.com:8080\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        b"Sec-WebSocket-Version: 13\r\n"
        b"Cookie: a=b\r\n"
        b"\r\n"
    )


@pytest.mark.parametrize(
    ("host", "path", "key", "headers"),
    [
        pytest.param("example.com", "/a b", KEY, [], id="space-in-path"),
        pytest.param("example.com", "no-slash", KEY, [], id="relative-path"),
        pytest.param("exa\r\nmple", "/", KEY, [], id="crlf-in-host"),
        pytest.param("example.com", "/", "short", [], id="bad-key"),
        pytest.param("example.com", "/", KEY, [("X-A", "1\r\nX-B: 2")], id="header-injection"),
        pytest.param("example.com", "/", KEY, [("X A", "1")], id="bad-header-name"),
        pytest.param("example.com", "/", KEY, [("host", "evil")], id="duplicate-host"),
        pytest.param("example.com", "/", KEY, [("X-A", "€")], id="not-latin-1"),
    ],
)
def test_client_handshake_request_refuses(
    host: str, path: str, key: str, headers: list[tuple[str, str]]
) -> None:
    with pytest.raises(LocalProtocolError):
        client_handshake_request(host, path, key, headers)


def test_check_server_response_accepts_section_4_2_2() -> None:
    check_server_response(101, GOOD_RESPONSE, KEY)
    lowercase = {name.lower(): value.upper() for name, value in GOOD_RESPONSE.items()}
    lowercase["sec-websocket-accept"] = GOOD_RESPONSE["Sec-WebSocket-Accept"]
    lowercase["connection"] = "keep-alive, Upgrade"
    lowercase["sec-websocket-extensions"] = ""
    check_server_response(101, lowercase, KEY)


@pytest.mark.parametrize(
    ("status", "changes"),
    [
        pytest.param(200, {}, id="status"),
        pytest.param(101, {"Upgrade": "h2c"}, id="upgrade"),
        pytest.param(101, {"Upgrade": None}, id="no-upgrade"),
        pytest.param(101, {"Connection": "keep-alive"}, id="connection"),
        pytest.param(101, {"Sec-WebSocket-Accept": "x"}, id="accept"),
        pytest.param(101, {"Sec-WebSocket-Extensions": "permessage-deflate"}, id="extension"),
        pytest.param(101, {"Sec-WebSocket-Protocol": "chat"}, id="subprotocol"),
    ],
)
def test_check_server_response_refuses_section_4_2_2(
    status: int, changes: dict[str, str | None]
) -> None:
    headers = {**GOOD_RESPONSE, **changes}
    present = {name: value for name, value in headers.items() if value is not None}
    with pytest.raises(RemoteProtocolError):
        check_server_response(status, present, KEY)


def test_reexported_by_websocket() -> None:
    for name in upgrade.__all__:
        assert getattr(websocket, name) is getattr(upgrade, name)
