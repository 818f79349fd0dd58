"""The client's session state machine driven by ``now``: no clock, no sockets."""

from __future__ import annotations

import pytest

from aiosio.engineio.packets import MESSAGE, PING, open_payload
from aiosio.engineio.session import ClientEngineSession, CloseReason, State, TimerEvent
from aiosio.exceptions import InvalidState, RemoteProtocolError

INF = float("inf")


def opened(
    *, transport: str = "polling", upgrades: tuple[str, ...] = ("websocket",), max_payload: int = 0
) -> ClientEngineSession:
    s = ClientEngineSession()
    handshake = open_payload(
        "abc", upgrades=upgrades, ping_interval=25.0, ping_timeout=20.0, max_payload=max_payload
    )
    s.open(handshake, transport=transport, now=0.0)
    return s


def test_a_new_session_opens_with_the_handshake() -> None:
    s = ClientEngineSession()
    assert s.state is State.NEW
    assert s.get_timer() == INF
    assert not s.send("4early")  # nothing is kept before the handshake
    assert s.outbox == []
    s.open(
        '0{"sid":"abc","upgrades":["websocket",7],"pingInterval":300,"pingTimeout":200,'
        '"maxPayload":1000}',
        transport="polling",
        now=10.0,
    )
    assert (s.state, s.sid, s.transport) == (State.OPEN, "abc", "polling")
    assert s.upgrades == ["websocket"]  # names that are not strings are dropped
    assert (s.ping_interval, s.ping_timeout, s.max_payload) == (0.3, 0.2, 1000)
    assert s.get_timer() == pytest.approx(10.5)  # interval + timeout after the OPEN
    with pytest.raises(InvalidState):
        s.open("0{}", transport="polling", now=11.0)


@pytest.mark.parametrize(
    "wire",
    [
        "",
        "4hello",
        "0not json",
        "0[]",
        '0{"sid":"a"}',
        '0{"sid":1,"upgrades":[],"pingInterval":1,"pingTimeout":1}',
        '0{"sid":"a","upgrades":[],"pingInterval":"1","pingTimeout":1}',
        '0{"sid":"a","upgrades":5,"pingInterval":1,"pingTimeout":1}',
    ],
)
def test_a_bad_handshake_is_a_protocol_error(wire: str) -> None:
    s = ClientEngineSession()
    with pytest.raises(RemoteProtocolError):
        s.open(wire, transport="polling", now=0.0)
    assert s.state is State.NEW


def test_messages_are_returned_and_control_packets_handled() -> None:
    s = opened()
    text = s.receive("4hello", 1.0)
    assert text is not None and (text.type, text.data) == (MESSAGE, "hello")
    binary = s.receive(b"\x01", 1.0)
    assert binary is not None and binary.data == b"\x01"
    based = s.receive("bAQI=", 1.0)
    assert based is not None and based.data == b"\x01\x02"
    for ignored in ("6", "3", "5", "0{}"):
        assert s.receive(ignored, 1.0) is None
    assert s.state is State.OPEN
    assert s.outbox == []


def test_ping_is_answered_and_moves_the_deadline() -> None:
    s = opened()
    assert s.get_timer() == 45.0
    assert s.handle_timer(44.9) is TimerEvent.NOTHING
    packet = s.receive("2", 30.0)
    assert packet is not None and packet.type is PING
    assert s.take_outbox() == ["3"]
    assert s.get_timer() == 75.0
    assert s.handle_timer(74.0) is TimerEvent.NOTHING
    assert not s.expired(75.0)
    assert s.expired(75.1)
    assert s.state is State.OPEN


def test_no_ping_in_interval_plus_timeout_is_a_ping_timeout() -> None:
    s = opened()
    assert s.handle_timer(45.0) is TimerEvent.TIMED_OUT
    assert s.state is State.CLOSED
    assert s.close_reason == CloseReason.PING_TIMEOUT == "ping timeout"
    assert s.get_timer() == INF
    assert s.handle_timer(100.0) is TimerEvent.NOTHING  # reported once


def test_close_packet_closes_with_transport_close() -> None:
    s = opened()
    s.send("4queued")
    assert s.receive("1", 1.0) is None
    assert s.state is State.CLOSED
    assert s.close_reason == CloseReason.TRANSPORT_CLOSE
    assert s.outbox == []
    assert not s.send("4late")
    assert s.outbox == []


def test_a_bad_packet_closes_with_parse_error() -> None:
    s = opened()
    with pytest.raises(RemoteProtocolError):
        s.receive("x", 1.0)
    assert s.state is State.CLOSED
    assert s.close_reason == CloseReason.PARSE_ERROR


def test_while_closing_nothing_is_reported_twice() -> None:
    s = opened()
    s.send("4last")
    s.closing()
    assert s.state is State.CLOSING
    assert s.outbox == ["4last", "1"]  # the goodbye over polling is a CLOSE packet
    assert not s.send("4dropped")
    assert s.receive("x", 1.0) is None  # no error: we are leaving anyway
    assert s.receive("1", 1.0) is None
    packet = s.receive("2", 1.0)
    assert packet is not None and packet.type is PING
    assert s.outbox == ["4last", "1"]  # no PONG once closing
    assert s.handle_timer(100.0) is TimerEvent.NOTHING
    assert s.lost(CloseReason.TRANSPORT_ERROR) is False
    assert s.state is State.CLOSING


def test_closing_over_websocket_sends_no_close_packet() -> None:
    s = opened(transport="websocket")
    s.send("4last")
    s.closing()
    assert s.outbox == ["4last"]


def test_lost_reports_once() -> None:
    s = opened()
    assert s.lost(CloseReason.TRANSPORT_ERROR) is True
    assert s.close_reason == "transport error"
    assert s.lost(CloseReason.TRANSPORT_CLOSE) is False
    assert s.close_reason == "transport error"


def test_upgrade_probe_pause_then_switch() -> None:
    s = opened()
    assert s.can_upgrade(("polling", "websocket"))
    assert not s.can_upgrade(("polling",))
    assert s.probe() == "2probe"
    with pytest.raises(RemoteProtocolError):
        s.check_probe(["3nope"])
    with pytest.raises(RemoteProtocolError):
        s.check_probe([])
    s.check_probe(["3probe", "4extra"])
    s.pause()
    assert s.state is State.UPGRADING
    assert not s.send("4kept")  # kept, but not written until the switch
    packet = s.receive("2", 1.0)  # the paused poll may still bring a PING
    assert packet is not None
    assert s.outbox == ["4kept", "3"]
    assert s.upgrade() == "5"
    assert (s.state, s.transport) == (State.OPEN, "websocket")
    assert not s.can_upgrade(("polling", "websocket"))
    with pytest.raises(InvalidState):
        s.upgrade()


def test_no_upgrade_when_the_server_offers_none() -> None:
    s = opened(upgrades=())
    assert not s.can_upgrade(("polling", "websocket"))
    with pytest.raises(InvalidState):
        s.upgrade()
    s.closing()
    with pytest.raises(InvalidState):
        s.pause()


def test_batches_respect_max_payload_over_polling() -> None:
    s = opened(max_payload=10)
    for packet in ("4aaaa", "4bbbb", b"\x00\x01\x02", "4c"):
        s.send(packet)
    # "4aaaa" + separator + "4bbbb" is 11 bytes: over 10.
    assert s.take_batch() == ["4aaaa"]
    assert s.take_batch() == ["4bbbb"]
    assert s.take_batch() == [b"\x00\x01\x02", "4c"]  # "bAAEC" + 1 + 2 = 8
    assert s.take_batch() == []
    s.send("4" + "x" * 50)
    assert s.take_batch() == ["4" + "x" * 50]  # alone, even when too big


def test_batches_are_whole_over_websocket_or_without_a_limit() -> None:
    for s in (opened(transport="websocket", max_payload=3), opened(max_payload=0)):
        s.send("4aaaa")
        s.send("4bbbb")
        assert s.take_batch() == ["4aaaa", "4bbbb"]


def test_close_reasons_compare_equal_to_their_strings() -> None:
    assert CloseReason.TRANSPORT_CLOSE == "transport close"
    assert f"{CloseReason.SERVER_SHUTTING_DOWN}" == "server shutting down"
    assert str(CloseReason.BUFFER_FULL) == "transport buffer full"
    assert {"forced close": 1}[CloseReason.FORCED_CLOSE] == 1
