"""Tests for aiosio.server.http: the HTTP content codings (Accept-Encoding chosen,
bodies encoded). Moved out of tests/websocket/test_deflate.py, unchanged."""

from __future__ import annotations

import gzip
import zlib

import pytest

from aiosio.server import http
from aiosio.server.http import HTTPCompression, choose_encoding, shared_strings


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("gzip, deflate, br", "gzip", id="browser"),
        pytest.param("deflate", "deflate", id="deflate-only"),
        pytest.param("br, deflate;q=0.5, gzip;q=0.4", "deflate", id="weighted"),
        pytest.param("gzip;q=0, deflate", "deflate", id="gzip-refused"),
        pytest.param("*", "gzip", id="star"),
        pytest.param("*;q=0.1, gzip;q=0", "deflate", id="star-but-gzip"),
        pytest.param("identity", None, id="identity"),
        pytest.param("", None, id="empty"),
        pytest.param("br, zstd", None, id="others"),
        pytest.param("GZIP ; q=1.0", "gzip", id="case-and-spaces"),
        pytest.param("gzip;q=abc", None, id="bad-weight"),
    ],
)
def test_choose_encoding(header: str, expected: str | None) -> None:
    assert choose_encoding(header) == expected


def test_http_compression_encodes() -> None:
    body = b'0{"sid":"x"}' * 200
    compression = HTTPCompression()
    assert gzip.decompress(compression.encode(body, "gzip")) == body
    assert zlib.decompress(compression.encode(body, "deflate")) == body
    assert compression.encode(body, "gzip") == compression.encode(body, "gzip")  # no mtime


def test_shared_strings_hold_repeated_names_and_values_once() -> None:
    # Two clients' handshakes: the names and the common values are one str for both
    # (built at run time, so equal but distinct objects before sharing).
    first = {"host": "example.test", "upgrade": "websocket", "sec-websocket-key": "a" * 22}
    second = {"".join(["ho", "st"]): "".join(["example", ".test"]), "sec-websocket-key": "b" * 22}
    one, two = shared_strings(first), shared_strings(second)
    assert one == first and two == second
    (host_one,), (host_two,) = [k for k in one if k == "host"], [k for k in two if k == "host"]
    assert host_one is host_two and one["host"] is two["host"]
    # A value that differs per client (a key, an id) is never kept in the table.
    size = len(http._SHARED)
    assert shared_strings({"sec-websocket-key": "unique-key-c"}) == {
        "sec-websocket-key": "unique-key-c"
    }
    assert len(http._SHARED) == size


def test_shared_query_words() -> None:
    query = shared_strings({"EIO": "4", "transport": "".join(["web", "socket"]), "t": "xyz"})
    again = shared_strings({"EIO": "4", "transport": "".join(["web", "socket"]), "t": "xyz"})
    assert query == again == {"EIO": "4", "transport": "websocket", "t": "xyz"}
    assert query["transport"] is again["transport"]
