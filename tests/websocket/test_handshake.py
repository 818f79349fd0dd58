"""Tests for aiosio.websocket.handshake: the WebSocket opening handshake (RFC 6455,
section 4) and the
negotiation of permessage-deflate (RFC 7692, sections 5 and 7.1)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from aiosio.exceptions import LocalProtocolError, RemoteProtocolError
from aiosio.websocket.handshake import (
    DeflateParameters,
    accept_deflate,
    accept_key,
    check_key,
    check_server_response,
    client_handshake_request,
    deflate_offer,
    negotiate_deflate,
    parse_extensions,
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


# --- permessage-deflate negotiation (RFC 7692) ---------------------------------------------


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        pytest.param("permessage-deflate", [("permessage-deflate", [])], id="bare"),
        pytest.param(
            "permessage-deflate; client_max_window_bits",
            [("permessage-deflate", [("client_max_window_bits", None)])],
            id="chrome",
        ),
        pytest.param(
            'Permessage-Deflate ; Server_Max_Window_Bits = "10" ;client_no_context_takeover',
            [
                (
                    "permessage-deflate",
                    [("server_max_window_bits", "10"), ("client_no_context_takeover", None)],
                )
            ],
            id="quoted-spaces-case-9.1",
        ),
        pytest.param(
            'a; x="q\\"d", , b',
            [("a", [("x", 'q"d')]), ("b", [])],
            id="escape-and-empty-element",
        ),
        pytest.param("", [], id="empty"),
    ],
)
def test_parse_extensions_section_9_1(
    value: str, parsed: list[tuple[str, list[tuple[str, str | None]]]]
) -> None:
    assert parse_extensions(value) == parsed


@pytest.mark.parametrize(
    "value",
    ["permessage-deflate=1", "a; =1", 'a; x="open', "a b", "a;", "@"],
)
def test_parse_extensions_refuses(value: str) -> None:
    with pytest.raises(RemoteProtocolError):
        parse_extensions(value)


P = DeflateParameters
NEGOTIATIONS = [  # (offer, server options, answer, agreed parameters); RFC 7692 section 7.1
    pytest.param(
        "permessage-deflate",
        {},
        "permessage-deflate; server_no_context_takeover",
        P(True, False, 15, 15),
        id="bare-offer-answered-with-server_no_context_takeover-7.1.1.1",
    ),
    pytest.param(
        "permessage-deflate; client_max_window_bits",
        {"client_max_window_bits": 10},
        "permessage-deflate; server_no_context_takeover; client_max_window_bits=10",
        P(True, False, 15, 10),
        id="client-window-limited-7.1.2.2",
    ),
    pytest.param(
        "permessage-deflate",
        {"client_max_window_bits": 10},
        "permessage-deflate; server_no_context_takeover",
        P(True, False, 15, 15),
        id="client-window-not-offered-not-answered-7.1.2.2",
    ),
    pytest.param(
        "permessage-deflate; client_max_window_bits=12",
        {"client_max_window_bits": 14},
        "permessage-deflate; server_no_context_takeover; client_max_window_bits=12",
        P(True, False, 15, 12),
        id="client-window-offered-smaller",
    ),
    pytest.param(
        "permessage-deflate; server_max_window_bits=10",
        {"server_max_window_bits": 12},
        "permessage-deflate; server_no_context_takeover; server_max_window_bits=10",
        P(True, False, 10, 15),
        id="server-window-asked-7.1.2.1",
    ),
    pytest.param(
        "permessage-deflate",
        {"server_max_window_bits": 12},
        "permessage-deflate; server_no_context_takeover",
        P(True, False, 12, 15),
        id="server-window-not-asked-not-answered",
    ),
    pytest.param(
        "permessage-deflate; server_max_window_bits=8, permessage-deflate",
        {},
        "permessage-deflate; server_no_context_takeover",
        P(True, False, 15, 15),
        id="window-8-declined-next-offer-taken",
    ),
    pytest.param(
        "permessage-deflate; client_no_context_takeover; server_no_context_takeover",
        {},
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        P(True, True, 15, 15),
        id="both-no-context-takeover-7.1.1",
    ),
    pytest.param(
        "permessage-deflate",
        {"client_no_context_takeover": True},
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        P(True, True, 15, 15),
        id="client_no_context_takeover-asked-by-server",
    ),
    pytest.param(
        "x-webkit-deflate-frame, permessage-deflate; foo, permessage-deflate; "
        "client_max_window_bits=7, permessage-deflate; server_max_window_bits, "
        "permessage-deflate; server_no_context_takeover=1, "
        "permessage-deflate; client_max_window_bits; client_max_window_bits, "
        "permessage-deflate; server_max_window_bits=09, permessage-deflate",
        {},
        "permessage-deflate; server_no_context_takeover",
        P(True, False, 15, 15),
        id="invalid-offers-skipped-7.1",
    ),
]


@pytest.mark.parametrize(("offer", "options", "answer", "agreed"), NEGOTIATIONS)
def test_negotiate_deflate(
    offer: str, options: dict[str, int], answer: str, agreed: DeflateParameters
) -> None:
    assert negotiate_deflate(offer, **options) == (answer, agreed)  # type: ignore[arg-type]
    # The client reaches the same parameters from the answer, except a server window that
    # the answer may not state (the client then allows 15 bits, which reads fewer too).
    seen = accept_deflate(answer, offer)
    assert replace(seen, server_max_window_bits=agreed.server_max_window_bits) == agreed
    assert seen.server_max_window_bits >= agreed.server_max_window_bits


@pytest.mark.parametrize(
    "offer", ["", "x-webkit-deflate-frame", "permessage-deflate; bogus", 'a; x="open']
)
def test_negotiate_deflate_declines(offer: str) -> None:
    assert negotiate_deflate(offer) is None


@pytest.mark.parametrize(
    ("options", "offer"),
    [
        pytest.param({}, "permessage-deflate; client_max_window_bits", id="default"),
        pytest.param(
            {
                "client_max_window_bits": 10,
                "server_max_window_bits": 8,
                "client_no_context_takeover": True,
                "server_no_context_takeover": True,
            },
            "permessage-deflate; client_no_context_takeover; server_no_context_takeover; "
            "server_max_window_bits=8; client_max_window_bits=10",
            id="everything",
        ),
    ],
)
def test_deflate_offer(options: dict[str, object], offer: str) -> None:
    assert deflate_offer(**options) == offer  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "options",
    [{"client_max_window_bits": 8}, {"client_max_window_bits": 16}, {"server_max_window_bits": 7}],
)
def test_deflate_offer_refuses(options: dict[str, int]) -> None:
    with pytest.raises(LocalProtocolError):
        deflate_offer(**options)


@pytest.mark.parametrize(
    ("answer", "offer"),
    [
        pytest.param("x-foo", "permessage-deflate", id="not-offered"),
        pytest.param(
            "permessage-deflate, permessage-deflate", "permessage-deflate", id="two-answers"
        ),
        pytest.param("permessage-deflate; foo", "permessage-deflate", id="unknown-param"),
        pytest.param(
            "permessage-deflate; client_max_window_bits=10",
            "permessage-deflate",
            id="client-window-not-offered-7.1.2.2",
        ),
        pytest.param(
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; client_max_window_bits",
            id="client-window-without-value",
        ),
        pytest.param(
            "permessage-deflate; client_max_window_bits=12",
            "permessage-deflate; client_max_window_bits=10",
            id="client-window-over-offer",
        ),
        pytest.param(
            "permessage-deflate; server_max_window_bits=12",
            "permessage-deflate; server_max_window_bits=10",
            id="server-window-over-offer-7.1.2.1",
        ),
        pytest.param(
            "permessage-deflate",
            "permessage-deflate; server_max_window_bits=10",
            id="server-window-ignored-7.1.2.1",
        ),
        pytest.param(
            "permessage-deflate",
            "permessage-deflate; server_no_context_takeover",
            id="server_no_context_takeover-ignored-7.1.1.1",
        ),
        pytest.param("permessage-deflate;", "permessage-deflate", id="syntax"),
    ],
)
def test_accept_deflate_refuses(answer: str, offer: str) -> None:
    with pytest.raises(RemoteProtocolError):
        accept_deflate(answer, offer)


def test_accept_deflate_raises_a_client_window_of_8_to_9() -> None:
    offer = deflate_offer()
    answer = "permessage-deflate; client_max_window_bits=8; server_max_window_bits=11"
    assert accept_deflate(answer, offer) == P(False, False, 11, 9)


def test_check_server_response_with_an_offer() -> None:
    offer = deflate_offer()
    assert check_server_response(101, GOOD_RESPONSE, KEY, extensions=offer) is None  # declined
    answer = {**GOOD_RESPONSE, "sec-websocket-extensions": "permessage-deflate"}
    assert check_server_response(101, answer, KEY, extensions=offer) == P()
    bad = {**GOOD_RESPONSE, "Sec-WebSocket-Extensions": "x-foo"}
    with pytest.raises(RemoteProtocolError):
        check_server_response(101, bad, KEY, extensions=offer)
