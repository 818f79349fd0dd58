"""Idle Socket.IO clients in a process of their own: ``python -m tests.server.idle_clients
PORT COUNT``. Each opens a WebSocket (raw bytes on a plain socket, no library), joins the
main namespace and stays idle; "ready" is printed once all have joined, and all are
closed when stdin ends. A process of its own: the server's process then holds only the
server's side of the connections (what the garbage-collection test measures), and each
process stays within its file-descriptor limit.
"""

from __future__ import annotations

import socket
import sys

UPGRADE = (
    b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
    b"Upgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
CONNECT = b"\x81\x82\x00\x00\x00\x0040"  # a masked text frame "40", all-zero key
BATCH = 100  # within the server's listen backlog


def joined(sock: socket.socket) -> None:
    """Read until the namespace's CONNECT answer (after the 101 and the OPEN packet)."""
    seen = b""
    while b"40{" not in seen:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed before joining")
        seen += chunk


def main(port: int, count: int) -> None:
    held: list[socket.socket] = []
    waiting: list[socket.socket] = []
    while len(held) + len(waiting) < count:
        batch = [
            socket.create_connection(("127.0.0.1", port), timeout=60)
            for _ in range(min(BATCH, count - len(held) - len(waiting)))
        ]
        for sock in batch:
            sock.sendall(UPGRADE + CONNECT)  # the frame glued to the handshake
        for sock in waiting:  # the previous batch, answered meanwhile
            joined(sock)
        held += waiting
        waiting = batch
    for sock in waiting:
        joined(sock)
    held += waiting
    print("ready", flush=True)
    sys.stdin.read()
    for sock in held:
        sock.close()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
