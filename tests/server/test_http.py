"""Tests for aiosio.server.http: the HTTP content codings (Accept-Encoding chosen,
bodies encoded). Moved out of tests/websocket/test_deflate.py, unchanged."""

from __future__ import annotations

import gzip
import zlib

import pytest

from aiosio.server.http import HTTPCompression, choose_encoding


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
