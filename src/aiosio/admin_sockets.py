"""What the Admin UI is told of a socket: :func:`serialize` (the UI's
``SerializedSocket``), its ``data`` and the timestamps of its events, all JSON.

A part of :mod:`aiosio.admin`, which sends these; a socket may be this server's or a
stand-in for another server's (``fetch_sockets`` in a cluster).
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from aiosio.server.broadcast import RemoteSocket
from aiosio.server.socket import Socket

__all__ = ["jsonable", "serialize", "timestamp", "user_data"]


def timestamp() -> str:
    """A timestamp as JavaScript's ``Date`` serialises to JSON."""
    moment = datetime.datetime.now(datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def jsonable(value: Any) -> Any:
    """``value`` with anything JSON cannot carry turned into its ``repr``."""
    try:
        return json.loads(json.dumps(value, default=repr))
    except (TypeError, ValueError):
        return repr(value)


def serialize(socket: Socket | RemoteSocket, namespace: str) -> dict[str, Any]:
    """A socket as the UI shows it (``SerializedSocket``).

    Args:
        socket: A local socket, or a stand-in for another server's.
        namespace: The name of its namespace.

    Returns:
        The socket's id, handshake, rooms, data and namespace, ready for JSON.
    """
    if isinstance(socket, Socket):
        handshake = socket.handshake
        headers = handshake.headers
        session = socket.conn.session
        client_id: str | None = session.sid[:12]  # the reference shows 12 characters too
        transport: str | None = session.transport
        details: dict[str, Any] = {
            "address": handshake.address,
            "headers": headers,
            "query": handshake.query,
            "issued": handshake.issued,
            "secure": handshake.secure,
            "time": handshake.time,
            "url": handshake.url,
            "xdomain": handshake.xdomain,
        }
    else:
        details = {
            key: value
            for key, value in socket.handshake.items()
            if key in ("address", "headers", "query", "issued", "secure", "time", "url", "xdomain")
        }
        headers = details.get("headers") or {}
        admin = socket.data.get("_admin") if isinstance(socket.data, dict) else None
        client_id = admin.get("clientId") if isinstance(admin, dict) else None
        transport = admin.get("transport") if isinstance(admin, dict) else None
    forwarded = headers.get("cf-connecting-ip") or headers.get("x-forwarded-for")
    if forwarded:
        details["address"] = forwarded
    return {
        "id": socket.id,
        "clientId": client_id,
        "transport": transport,
        "nsp": namespace,
        "data": user_data(socket.data),
        "handshake": jsonable(details),
        "rooms": sorted(socket.rooms),
    }


def user_data(data: Any) -> Any:
    """``socket.data`` as the UI is shown it: JSON, without the admin's own ``_admin`` key."""
    if isinstance(data, dict) and "_admin" in data:
        data = {key: value for key, value in data.items() if key != "_admin"}
    return jsonable(data)
