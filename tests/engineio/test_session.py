"""The session state machine driven by ``now``: no clock, no sockets."""

from __future__ import annotations

import pytest

from aiosio.engineio.session import CloseReason, EngineSession, State, TimerEvent
from aiosio.exceptions import InvalidState, RemoteProtocolError


def session(transport: str = "polling") -> EngineSession:
    return EngineSession("sid", transport=transport, now=0.0, ping_interval=25.0, ping_timeout=20.0)


def test_messages_pass_through_and_control_packets_do_not() -> None:
    s = session()
    assert s.receive("4hello") == "hello"
    assert s.receive(b"\x00") == b"\x00"
    assert s.receive("bAQI=") == b"\x01\x02"
    assert s.receive("6") is None
    assert s.state is State.OPEN


def test_heartbeat_pings_then_times_out_without_pong() -> None:
    s = session()
    assert s.get_timer() == 25.0
    assert s.handle_timer(24.9) is TimerEvent.NOTHING
    assert s.handle_timer(25.0) is TimerEvent.PING
    assert s.take_outbox() == ["2"]
    assert s.get_timer() == 45.0  # the pong deadline runs from when the ping was queued
    assert s.handle_timer(45.0) is TimerEvent.TIMED_OUT
    assert s.state is State.CLOSED
    assert s.close_reason == CloseReason.PING_TIMEOUT
    assert s.get_timer() == float("inf")
    assert s.handle_timer(100.0) is TimerEvent.NOTHING


def test_pong_keeps_the_session_alive() -> None:
    s = session()
    s.handle_timer(25.0)
    assert s.receive("3") is None
    assert s.get_timer() == 50.0  # next ping, one interval after the previous one
    assert s.handle_timer(45.0) is TimerEvent.NOTHING
    assert s.handle_timer(50.0) is TimerEvent.PING
    assert s.state is State.OPEN


def test_no_second_ping_while_a_pong_is_awaited() -> None:
    s = EngineSession("sid", transport="polling", now=0.0, ping_interval=1.0, ping_timeout=5.0)
    assert s.handle_timer(1.0) is TimerEvent.PING
    assert s.handle_timer(2.0) is TimerEvent.NOTHING
    assert s.take_outbox() == ["2"]
    assert s.handle_timer(6.0) is TimerEvent.TIMED_OUT


@pytest.mark.parametrize("wire", ["", "2", "x", "0", "5", "b!!"])
def test_protocol_errors_close_with_parse_error(wire: str) -> None:
    s = session()
    with pytest.raises(RemoteProtocolError):
        s.receive(wire)
    assert s.state is State.CLOSED
    assert s.close_reason == CloseReason.PARSE_ERROR


def test_close_packet_closes_and_clears_the_outbox() -> None:
    s = session()
    s.send("4queued")
    assert s.receive("1") is None
    assert s.state is State.CLOSED
    assert s.close_reason == CloseReason.TRANSPORT_CLOSE
    assert s.take_outbox() == []
    s.send("4late")
    assert s.outbox == []
    assert s.close("again") is False


def test_upgrade_probe_then_upgrade() -> None:
    s = session()
    s.probe(now=1.0)
    assert s.state is State.UPGRADING
    assert s.get_timer() == 11.0  # upgrade timeout comes before the first ping
    s.upgrade()
    assert s.state is State.OPEN
    assert s.transport == "websocket"
    assert s.get_timer() == 25.0


def test_upgrade_expires_and_keeps_polling() -> None:
    s = session()
    s.probe(now=1.0)
    assert s.handle_timer(11.0) is TimerEvent.UPGRADE_EXPIRED
    assert s.state is State.OPEN
    assert s.transport == "polling"


def test_illegal_upgrade_steps_raise_invalid_state() -> None:
    s = session("websocket")
    with pytest.raises(InvalidState):
        s.probe(now=0.0)
    with pytest.raises(InvalidState):
        s.upgrade()
    p = session()
    p.abort_upgrade()  # harmless when not upgrading
    assert p.state is State.OPEN


def test_a_packet_while_a_pong_is_awaited_extends_the_deadline_once_per_cycle() -> None:
    s = session()
    assert s.pong_extendable is False
    assert s.receive("4early", 10.0) == "early"  # no pong awaited: nothing to extend
    assert s.get_timer() == 25.0
    assert s.handle_timer(25.0) is TimerEvent.PING
    assert s.pong_extendable is True
    assert s.get_timer() == 45.0
    assert s.receive("4busy") == "busy"  # no time given: no extension
    assert s.get_timer() == 45.0
    assert s.receive("4busy", 30.0) == "busy"
    assert s.pong_extendable is False
    assert s.get_timer() == 50.0  # ping_timeout after that packet
    assert s.receive(b"\x01", 40.0) == b"\x01"  # once per cycle only
    assert s.get_timer() == 50.0
    assert s.handle_timer(45.0) is TimerEvent.NOTHING
    assert s.handle_timer(50.0) is TimerEvent.TIMED_OUT
    assert s.close_reason == CloseReason.PING_TIMEOUT


def test_the_extension_is_available_again_in_the_next_cycle() -> None:
    s = session()
    s.handle_timer(25.0)
    assert s.receive("4x", 26.0) == "x"
    assert s.receive("3") is None
    assert s.pong_extendable is False
    assert s.get_timer() == 50.0
    assert s.handle_timer(50.0) is TimerEvent.PING
    assert s.pong_extendable is True
    assert s.receive(b"\x00", 60.0) == b"\x00"  # binary packets count too
    assert s.get_timer() == 80.0
