"""Authentication in the handshake: a signed token in ``auth``, checked by a middleware.

The token here is an HMAC of the user name (what a JWT library would give you, with less);
the point is where the check goes: a middleware, before the client is connected.
"""

import hashlib
import hmac
from typing import Any

import aiosio
from aiosio.server.http import HTTPRequest

SECRET = b"change-me"


def sign(user: str) -> str:
    """The token a login endpoint would hand out."""
    mac = hmac.new(SECRET, user.encode(), hashlib.sha256).hexdigest()
    return f"{user}.{mac}"


def verify(token: Any) -> str | None:
    """The user name a token carries, or None if it is not one of ours."""
    if not isinstance(token, str) or "." not in token:
        return None
    user, _, mac = token.rpartition(".")
    expected = hmac.new(SECRET, user.encode(), hashlib.sha256).hexdigest()
    return user if hmac.compare_digest(mac, expected) else None


def allow(request: HTTPRequest) -> bool:
    """Runs on each Engine.IO handshake, before any Socket.IO packet: refuse early."""
    return request.headers.get("user-agent", "") != "bad-bot"


io = aiosio.Server(
    cors_allowed_origins=["https://chat.example"],  # browsers on other sites are refused
    allow_request=allow,
    max_http_buffer_size=100_000,  # the largest message a client may send, in bytes
)


@io.use
def authenticate(socket: aiosio.Socket) -> None:
    user = verify(socket.handshake.auth.get("token"))
    if user is None:
        raise aiosio.ConnectionRefused("unauthorized", {"reason": "bad or missing token"})
    socket.data["user"] = user


@io.on("connection")
def on_connection(socket: aiosio.Socket) -> None:
    @socket.on("whoami")
    def whoami() -> str:
        return str(socket.data["user"])
