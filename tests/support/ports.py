"""Free TCP ports on 127.0.0.1."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port that was free a moment ago (bound, read, released): for a server that must be
    told its port before it starts (a subprocess, a restart on the same port)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def listening_socket(backlog: int = 128) -> socket.socket:
    """A non-blocking socket bound to a fresh port of 127.0.0.1 and already listening, so
    clients may connect at once (the backlog holds them) while a server starts on it."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(backlog)
    sock.setblocking(False)
    return sock
