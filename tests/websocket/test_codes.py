"""Tests for aiosio.websocket.codes: the numbers are RFC 6455's, the error carries its close
code, and frames re-exports the same objects (so ``except frames.WebSocketError`` still
catches what the parser raises)."""

from __future__ import annotations

import pytest

from aiosio.exceptions import RemoteProtocolError
from aiosio.websocket import codes, frames
from aiosio.websocket.codes import CloseCode, Opcode, WebSocketError


def test_opcodes_section_5_2() -> None:
    assert [int(op) for op in Opcode] == [0, 1, 2, 8, 9, 10]
    assert (codes.TEXT, codes.BINARY, codes.CLOSE) == (Opcode.TEXT, Opcode.BINARY, Opcode.CLOSE)
    assert (codes.CONTINUATION, codes.PING, codes.PONG) == (0, 9, 10)


def test_close_codes_section_7_4_1() -> None:
    assert CloseCode.NORMAL == 1000
    assert CloseCode.PROTOCOL_ERROR == 1002
    assert CloseCode.NO_STATUS == 1005
    assert CloseCode.INVALID_DATA == 1007
    assert CloseCode.MESSAGE_TOO_BIG == 1009
    assert CloseCode.INTERNAL_ERROR == 1011


def test_websocket_error_carries_the_close_code() -> None:
    with pytest.raises(RemoteProtocolError) as caught:
        raise WebSocketError(CloseCode.MESSAGE_TOO_BIG, "message too big")
    assert isinstance(caught.value, WebSocketError)
    assert (caught.value.code, caught.value.reason) == (1009, "message too big")
    assert str(caught.value) == "message too big"


def test_frames_reexports_the_same_objects() -> None:
    for name in codes.__all__:
        assert getattr(frames, name) is getattr(codes, name), name
        assert name in frames.__all__
    with pytest.raises(frames.WebSocketError) as caught:
        frames.FrameParser().feed(b"\x83\x80\x00\x00\x00\x00")  # opcode 3 is reserved
    assert caught.value.code == CloseCode.PROTOCOL_ERROR
