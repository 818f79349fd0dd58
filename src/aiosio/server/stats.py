"""Counters kept by the engine and the standalone front door, always on.

They are plain integers bumped in place on paths that already run (one increment per
received packet, per flush, per socket read or write): no allocation, no lock, no clock.
:mod:`aiosio.metrics` turns them into the Prometheus text format, and :mod:`aiosio.admin`
into the Admin UI's aggregated events.
"""

from __future__ import annotations

__all__ = ["Counters"]


class Counters:
    """Totals since the engine started.

    Attributes:
        packets_in: Engine.IO packets received (either transport).
        packets_out: Engine.IO packets flushed to a transport (the handshake's OPEN and
            the upgrade probe are not counted).
        bytes_in: Bytes read from client connections by the standalone server, HTTP and
            WebSocket framing included (an ASGI server counts its own).
        bytes_out: Bytes written to client connections by the standalone server.
        sessions_opened: Engine.IO sessions opened.
        sessions_closed: Engine.IO sessions closed, by close reason.
        refused: Handshakes and connections refused by admission, by the rule refusing.
        limited: Events over a rate limit, by the rule's action (``drop``, ``disconnect``).
    """

    __slots__ = (
        "bytes_in",
        "bytes_out",
        "limited",
        "packets_in",
        "packets_out",
        "refused",
        "sessions_closed",
        "sessions_opened",
    )

    def __init__(self) -> None:
        self.packets_in = 0
        self.packets_out = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.sessions_opened = 0
        self.sessions_closed: dict[str, int] = {}
        self.refused: dict[str, int] = {}
        self.limited: dict[str, int] = {}

    def closed(self, reason: str) -> None:
        """Count one closed session."""
        self.sessions_closed[reason] = self.sessions_closed.get(reason, 0) + 1
