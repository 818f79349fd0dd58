"""The options of the client: :class:`ManagerOptions` (the connection's) and
:class:`ClientOptions` (those and a namespace's), as typed keyword arguments.

They are read by :class:`~aiosio.client.manager.BaseManager` and
:class:`~aiosio.client.client.Client`; docs/client-options.md sets each beside the
official socket.io-client's option.
"""

from __future__ import annotations

import ssl as ssl_module
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypedDict

from aiosio.client.transports import TransportFactory
from aiosio.socketio.parsers import Parser

__all__ = ["SOCKET_KEYS", "AuthSource", "ClientOptions", "ManagerOptions"]


class ManagerOptions(TypedDict, total=False):
    """Options of a :class:`~aiosio.client.manager.BaseManager` (and
    :class:`aiosio.client.Manager`); durations in seconds.

    Attributes:
        path: The Engine.IO path on the server (``/socket.io``).
        transports: Transports to use, in order: ``polling``, ``websocket``,
            ``webtransport`` (the last needs the ``webtransport`` extra).
        upgrade: Whether to upgrade from polling to WebSocket (or WebTransport).
        remember_upgrade: Open with WebSocket when the last WebSocket to this server
            worked (False).
        try_all_transports: When a transport fails to open, try the next one (False).
        query: Extra query parameters of every request.
        extra_headers: Extra HTTP headers of every request (polling and WebSocket).
        with_credentials: Keep the cookies the server sets (the ``io`` cookie, a load
            balancer's sticky cookie) and send them back on every request (False).
        per_message_deflate: Offer permessage-deflate on WebSockets: True (messages of
            1024 bytes or more compressed), a threshold in bytes, or False (True).
        proxy: An ``http://`` proxy URL, ``""`` for none; None (the default) takes
            ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` from the environment.
        webtransport: Options of the WebTransport transport: ``port`` (the server's
            HTTP/3 port, default the URL's), ``certificate_hashes`` (SHA-256 digests of
            accepted self-signed certificates), ``verify`` (True).
        ssl: TLS context for ``https``/``wss`` (default: the system's trust store).
        timeout: Seconds to wait for the connection to open; None for no limit.
        reconnection: Whether to reconnect after a connection loss.
        reconnection_attempts: Attempts before giving up (``math.inf`` by default).
        reconnection_delay: The first delay between attempts.
        reconnection_delay_max: The largest delay between attempts.
        randomization_factor: The jitter of the delays, in 0..1.
        max_message_size: The largest WebSocket message accepted from the server.
        parser: ``"json"`` (default), ``"msgpack"`` (socket.io-msgpack-parser) or a parser
            object; it must be the server's.
        transport_factory: Makes the transport of each connection attempt instead of
            :func:`~aiosio.client.transports.create` (the network's); :mod:`aiosio.testing`
            uses it to connect to a server in memory.
    """

    path: str
    transports: Sequence[str]
    upgrade: bool
    remember_upgrade: bool
    try_all_transports: bool
    query: Mapping[str, str]
    extra_headers: Mapping[str, str] | Sequence[tuple[str, str]]
    with_credentials: bool
    per_message_deflate: bool | int
    proxy: str | None
    webtransport: Mapping[str, Any]
    ssl: ssl_module.SSLContext | None
    timeout: float | None
    reconnection: bool
    reconnection_attempts: float
    reconnection_delay: float
    reconnection_delay_max: float
    parser: str | Parser | None
    randomization_factor: float
    max_message_size: int
    transport_factory: TransportFactory


AuthSource = dict[str, Any] | Callable[[], Any] | None
"""A dict, or a function (async allowed) returning the dict sent with CONNECT."""


class ClientOptions(ManagerOptions, total=False):
    """Options of :class:`Client`: the manager's plus these.

    Attributes:
        auth: The CONNECT payload, or a function (sync or async) returning it.
        retries: Times an emit is sent again when not acknowledged (0: no queue).
        ack_timeout: Default seconds to wait for acknowledgements.
        force_new: Open a new Engine.IO connection instead of sharing one.
        multiplex: Share connections to the same server (default True).
    """

    auth: AuthSource
    retries: int
    ack_timeout: float | None
    force_new: bool
    multiplex: bool


SOCKET_KEYS = frozenset({"auth", "retries", "ack_timeout", "force_new", "multiplex"})
