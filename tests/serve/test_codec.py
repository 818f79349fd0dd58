"""aiosio.serve.codec: the bytes of the standalone door's HTTP/1.1 answers, and its query
string parsing (a shortcut of ``parse_qsl`` that must give the same pairs)."""

from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from aiosio.serve.codec import encode_response, parse_query, reason, status_line
from aiosio.server.http import HTTPResponse

# -- status lines ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "phrase"),
    [
        (101, "Switching Protocols"),
        (200, "OK"),
        (204, "No Content"),
        (400, "Bad Request"),
        (403, "Forbidden"),
        (404, "Not Found"),
        (500, "Internal Server Error"),
        (503, "Service Unavailable"),
        (299, "Unknown"),
        (999, "Unknown"),
    ],
)
def test_reason(status: int, phrase: str) -> None:
    assert reason(status) == phrase
    answer = encode_response(HTTPResponse(status), keep_alive=True)
    assert answer.startswith(f"HTTP/1.1 {status} {phrase}\r\n".encode())
    assert status_line(status) == f"HTTP/1.1 {status} {phrase}".encode()


# -- whole answers --------------------------------------------------------------------------------


def test_keep_alive_answer() -> None:
    response = HTTPResponse(200, b"ok", [("Content-Type", "text/plain; charset=UTF-8")])
    assert encode_response(response, keep_alive=True) == (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=UTF-8\r\nContent-Length: 2\r\n\r\nok"
    )


def test_close_answer_says_connection_close() -> None:
    response = HTTPResponse(400, b'{"code":3}', [("Content-Type", "application/json")])
    assert encode_response(response, keep_alive=False) == (
        b"HTTP/1.1 400 Bad Request\r\n"
        b"Content-Type: application/json\r\n"
        b"Content-Length: 10\r\n"
        b"Connection: close\r\n"
        b"\r\n"
        b'{"code":3}'
    )


def test_no_headers_and_no_body() -> None:
    assert encode_response(HTTPResponse(204), keep_alive=True) == (
        b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"
    )
    assert encode_response(HTTPResponse(204), keep_alive=False) == (
        b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )


def test_headers_keep_their_order_and_repeats() -> None:
    response = HTTPResponse(
        200,
        b"x",
        [("Set-Cookie", "a=1"), ("Vary", "Origin"), ("Set-Cookie", "b=2")],
    )
    head, _, body = encode_response(response, keep_alive=True).partition(b"\r\n\r\n")
    assert head.split(b"\r\n") == [
        b"HTTP/1.1 200 OK",
        b"Set-Cookie: a=1",
        b"Vary: Origin",
        b"Set-Cookie: b=2",
        b"Content-Length: 1",
    ]
    assert body == b"x"


def test_the_length_is_of_the_body_bytes() -> None:
    body = "é€".encode() + bytes(1000)
    answer = encode_response(HTTPResponse(200, body), keep_alive=True)
    assert answer.endswith(b"Content-Length: 1005\r\n\r\n" + body)


def test_header_values_are_latin1() -> None:
    response = HTTPResponse(200, b"", [("X-Name", "caf\xe9")])
    assert b"X-Name: caf\xe9\r\n" in encode_response(response, keep_alive=True)


def test_repeated_answers_are_identical() -> None:
    """Heads are cached by (status, headers, keep-alive); the bodies still differ."""
    headers = [("Content-Type", "text/plain")]
    first = encode_response(HTTPResponse(200, b"one", headers), keep_alive=True)
    second = encode_response(HTTPResponse(200, b"three", list(headers)), keep_alive=True)
    assert first.endswith(b"Content-Length: 3\r\n\r\none")
    assert second.endswith(b"Content-Length: 5\r\n\r\nthree")
    closing = encode_response(HTTPResponse(200, b"one", headers), keep_alive=False)
    assert closing.endswith(b"Content-Length: 3\r\nConnection: close\r\n\r\none")
    assert encode_response(HTTPResponse(200, b"one", headers), keep_alive=True) == first


def test_many_different_heads_stay_correct() -> None:
    """More distinct heads than the cache holds (a cookie per session): every answer
    is still its own."""
    for n in range(600):
        response = HTTPResponse(200, b"", [("Set-Cookie", f"io=sid{n}")])
        assert encode_response(response, keep_alive=n % 2 == 0) == (
            b"HTTP/1.1 200 OK\r\nSet-Cookie: io=sid%d\r\nContent-Length: 0\r\n" % n
            + (b"\r\n" if n % 2 == 0 else b"Connection: close\r\n\r\n")
        )


# -- query strings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", {}),
        ("EIO=4&transport=polling&t=PaB1c2", {"EIO": "4", "transport": "polling", "t": "PaB1c2"}),
        (
            "EIO=4&transport=websocket&sid=abc-_123",
            {"EIO": "4", "transport": "websocket", "sid": "abc-_123"},
        ),
        ("a", {"a": ""}),
        ("a=", {"a": ""}),
        ("=b", {"": "b"}),
        ("=", {"": ""}),
        ("a=1&a=2", {"a": "2"}),  # the last one wins
        ("a=1&&b=2&", {"a": "1", "b": "2"}),
        ("&", {}),
        ("a=b=c", {"a": "b=c"}),
        ("a=1;b=2", {"a": "1;b=2"}),  # only & separates
        ("name=caf%C3%A9", {"name": "café"}),
        ("a+b=c+d", {"a b": "c d"}),
        ("q=%2B%26%3D", {"q": "+&="}),
        ("bad=%zz", {"bad": "%zz"}),
        ("x=%", {"x": "%"}),
        ("x=é", {"x": "é"}),
    ],
)
def test_parse_query(raw: str, expected: dict[str, str]) -> None:
    assert parse_query(raw) == expected
    assert parse_query(raw) == dict(parse_qsl(raw, keep_blank_values=True))
