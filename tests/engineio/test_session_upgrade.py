"""The server's upgrade steps (``2probe``, ``5``) decided by the session, driven by ``now``."""

from __future__ import annotations

from aiosio.engineio.packets import NOOP_TEXT, PROBE_PING, PROBE_PONG, UPGRADE_TEXT
from aiosio.engineio.session import CloseReason, EngineSession, State, TimerEvent, UpgradeEvent


def session() -> EngineSession:
    return EngineSession("sid", transport="polling", now=0.0, ping_interval=25.0, ping_timeout=20.0)


def test_the_texts() -> None:
    assert (PROBE_PING, PROBE_PONG, UPGRADE_TEXT, NOOP_TEXT) == ("2probe", "3probe", "5", "6")


def test_probe_then_upgrade() -> None:
    s = session()
    assert s.upgrade_step("2probe", 1.0) is UpgradeEvent.PROBED
    assert s.state is State.UPGRADING
    assert s.get_timer() == 11.0  # upgrade_timeout after the probe
    assert s.upgrade_step("5", 2.0) is UpgradeEvent.UPGRADED
    assert (s.state, s.transport) == (State.OPEN, "websocket")
    assert s.get_timer() == 25.0  # the heartbeat goes on


def test_upgrade_without_probe_aborts() -> None:
    s = session()
    assert s.upgrade_step("5", 1.0) is UpgradeEvent.ABORTED
    assert (s.state, s.transport) == (State.OPEN, "polling")


def test_anything_else_aborts_a_started_upgrade() -> None:
    for wrong in ("4hello", b"\x00", "2probe", "3probe"):
        s = session()
        s.upgrade_step("2probe", 1.0)
        assert s.upgrade_step(wrong, 2.0) is UpgradeEvent.ABORTED
        assert (s.state, s.transport) == (State.OPEN, "polling")
        assert s.get_timer() == 25.0  # no upgrade deadline left


def test_no_five_in_time_expires() -> None:
    s = session()
    s.upgrade_step("2probe", 1.0)
    assert s.handle_timer(11.0) is TimerEvent.UPGRADE_EXPIRED
    assert s.state is State.OPEN
    assert s.upgrade_step("5", 12.0) is UpgradeEvent.ABORTED


def test_after_a_server_close_only_five_is_answered() -> None:
    s = session()
    s.upgrade_step("2probe", 1.0)
    s.close(CloseReason.FORCED_CLOSE)
    assert s.upgrade_step("5", 2.0) is UpgradeEvent.CLOSED_UPGRADED
    assert s.upgrade_step("2probe", 2.0) is UpgradeEvent.ABORTED
    assert s.state is State.CLOSED
    assert s.close_reason == "forced close"
