"""Test kit: clients connected to a server in memory, with no socket and no port.

The server side is the real one (engine, middlewares, rooms, acks, recovery) and so is the
client (:class:`aiosio.Client`); only the WebSocket between them is a pair of in-memory
queues. That keeps tests of handlers fast (milliseconds) and free of ports, while every
packet goes through the same encoding, decoding and state machines as over a network::

    import aiosio
    import aiosio.testing

    async def test_echo() -> None:
        io = aiosio.Server()

        @io.on("connection")
        def on_connection(socket: aiosio.Socket) -> None:
            socket.on("echo", lambda value: value)

        async with aiosio.testing.connect(io) as client:
            assert await client.emit_with_ack("echo", 1, timeout=1) == 1

Delivery is asynchronous, as over a network: what one side sends reaches the other in a
later iteration of the event loop, never inside the call that sent it, and in order. So a
test waits on events (an ``asyncio.Event`` set by a handler, ``emit_with_ack``), exactly as
it would with a real connection.

* :func:`connect` opens one client; use it with ``async with`` (disconnected at the end)
  or ``await`` it (disconnect it yourself).
* :func:`serve` serves a server for the length of a block and opens any number of clients
  on it, all disconnected at the end: the shape of a pytest fixture.
* :func:`drop` cuts a connection abruptly, as a network failure would, to test reconnection
  and connection state recovery.

Only the ``websocket`` transport exists in memory (there is nothing to upgrade from): a
server configured with ``transports=("polling",)`` refuses these clients, as it would
refuse a WebSocket client.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Generator, Mapping, Sequence
from typing import Any, TypedDict, Unpack
from urllib.parse import urlencode

from aiosio.app import Server
from aiosio.client.client import Client
from aiosio.client.client_options import AuthSource
from aiosio.client.manager import State as ManagerState
from aiosio.client.transports import Endpoint, Transport
from aiosio.engineio.handshake import HTTPError
from aiosio.engineio.session import CloseReason
from aiosio.engineio.wire import Wire
from aiosio.exceptions import RemoteProtocolError
from aiosio.server.engine import EngineServer, ServerSession
from aiosio.server.http import HTTPRequest
from aiosio.server.socket import Socket
from aiosio.socketio.parsers import Parser
from aiosio.websocket.frames import CloseCode

__all__ = ["ConnectOptions", "InMemoryServer", "connect", "drop", "serve"]

_HOST = "testserver"
"""The host of the URL in-memory clients are given (it is never resolved)."""

# A client "port" per connection (the ephemeral range), for the handshake's address.
_ports = itertools.cycle(range(49152, 65536))


class ConnectOptions(TypedDict, total=False):
    """The client options that mean something in memory (see
    :class:`aiosio.client.ClientOptions`).

    The defaults differ from a real client's in two ways, both so that tests stay fast and
    correct: ``parser`` is the server's, and reconnection waits 1 ms at first and 50 ms
    at most, not 1 to 5 s.
    """

    retries: int
    ack_timeout: float | None
    timeout: float | None
    reconnection: bool
    reconnection_attempts: float
    reconnection_delay: float
    reconnection_delay_max: float
    randomization_factor: float
    parser: str | Parser | None
    max_message_size: int


# -- the in-memory WebSocket -------------------------------------------------------------


class _Pipe:
    """One in-memory WebSocket between a client transport and a server's engine.

    For the engine it is a :class:`~aiosio.server.engine.WebSocketTransport`, fed as the
    front doors feed theirs (``aiosio.asgi``'s ``_websocket``): messages through
    ``websocket_message``, the end through ``websocket_closed``. Both directions are
    queues: the client reads its queue when woken, and what the client writes is handed
    to the engine by one ``call_soon`` callback, so neither side runs inside the other's
    call.
    """

    def __init__(self, engine: EngineServer) -> None:
        self._engine = engine
        self._loop = asyncio.get_running_loop()
        self.session: ServerSession | None = None  # None once the engine knows it ended
        self._inbox: deque[str | bytes] = deque()  # server -> client, not yet read
        self._size = 0  # what the inbox holds (characters for text), for buffered()
        self._wakeup = asyncio.Event()
        self._outbox: deque[str | bytes] = deque()  # client -> server, not yet delivered
        self._delivery: asyncio.Handle | None = None
        self._server_closed = False  # the server closed it: the client reads on, then EOF
        self._hung_up = False  # the client closed it
        self._broken = False  # cut by drop(): both sides see an error

    # -- the engine's side (WebSocketTransport) ---------------------------------------

    def send_items(self, items: list[object]) -> None:
        """Queue engine packets for the client, in order; the client wakes up later."""
        if self._server_closed or self._hung_up or self._broken or not items:
            return
        for item in items:
            data = _packet_of(item)
            self._inbox.append(data)
            self._size += len(data)
        self._wakeup.set()

    def close(self, code: int = 1000) -> None:
        """The server closes: the client reads what was sent before, then sees the end."""
        if self._server_closed:
            return
        self._server_closed = True
        self._outbox.clear()  # what the client wrote and the server did not read is lost
        self._wakeup.set()
        session, self.session = self.session, None
        if session is not None:  # as the front doors do: a no-op when the engine closed it
            self._engine.websocket_closed(session, self)

    def buffered(self) -> int:
        """What the client has not read yet (characters for text)."""
        return self._size

    # -- the client's side --------------------------------------------------------------

    async def take(self) -> list[str | bytes]:
        """Wait for the server's next packets (every one queued so far).

        Raises:
            ConnectionResetError: The connection was cut (:func:`drop`).
            EOFError: The server closed the WebSocket, or the client did.
        """
        inbox = self._inbox
        while not inbox:
            if self._broken:
                raise ConnectionResetError("the connection was dropped (aiosio.testing.drop)")
            if self._hung_up:
                raise EOFError("the WebSocket is closed")
            if self._server_closed:
                raise EOFError("the server closed the WebSocket")
            self._wakeup.clear()
            await self._wakeup.wait()
        packets = list(inbox)
        inbox.clear()
        self._size = 0
        return packets

    def put(self, packets: list[str | bytes]) -> None:
        """Queue the client's packets for the engine, delivered in a later loop step.

        Raises:
            ConnectionResetError: The connection was cut.
            EOFError: The client closed the WebSocket.
        """
        if self._broken:
            raise ConnectionResetError("the connection was dropped (aiosio.testing.drop)")
        if self._hung_up:
            raise EOFError("the WebSocket is closed")
        if self.session is None:
            return  # the server has gone: what is written is lost, EOF comes with a read
        self._outbox.extend(packets)
        self._schedule()

    def hang_up(self) -> None:
        """The client closes: the engine learns it after what the client sent before."""
        if self._hung_up:
            return
        self._hung_up = True
        self._end_reads()

    def cut(self) -> None:
        """Break the connection both ways at once, losing what is in flight."""
        if self._broken or self._hung_up:
            return
        self._broken = True
        self._outbox.clear()
        self._end_reads()

    def _end_reads(self) -> None:
        """Drop what the client has not read, wake its reader, and let the engine learn
        of the end after what is in flight."""
        self._inbox.clear()
        self._size = 0
        self._wakeup.set()
        if self.session is not None:
            self._schedule()

    def _schedule(self) -> None:
        if self._delivery is None:
            self._delivery = self._loop.call_soon(self._deliver)

    def _deliver(self) -> None:
        """Hand what the client wrote to the engine, then its end if it has come."""
        self._delivery = None
        engine = self._engine
        limit = engine.max_http_buffer_size
        outbox = self._outbox
        while outbox:
            session = self.session
            if session is None:
                outbox.clear()
                return
            data = outbox.popleft()
            if _size_over(data, limit):
                # As the front doors: close 1009, the session ends with "transport error".
                outbox.clear()
                self.session = None
                self.close(CloseCode.MESSAGE_TOO_BIG)
                engine.websocket_error(session, self, CloseReason.TRANSPORT_ERROR)
                return
            engine.websocket_message(session, self, data)
        session = self.session
        if session is not None and (self._hung_up or self._broken):
            self.session = None
            engine.websocket_closed(session, self, error=self._broken)


def _packet_of(item: object) -> str | bytes:
    """The Engine.IO packet of an item the engine sends (str, bytes or a shared Wire)."""
    if isinstance(item, Wire):
        return item.data
    if isinstance(item, str | bytes):
        return item
    raise TypeError(f"not an engine packet: {item!r}")


def _size_over(data: str | bytes, limit: int) -> bool:
    """Whether a message is over ``limit`` bytes (UTF-8 for text), as the front doors
    count: a character is at most 4 bytes, so text is encoded only when it may matter."""
    if isinstance(data, bytes) or len(data) * 4 <= limit:
        return len(data) > limit
    return len(data.encode()) > limit


class _MemoryWebSocket:
    """The client's transport (a :class:`~aiosio.client.transports.Transport`) over a
    :class:`_Pipe`: the handshake is checked by the engine as a front door checks it."""

    name = "websocket"

    def __init__(self, link: _Link, endpoint: Endpoint, sid: str | None) -> None:
        self.link = link
        self.endpoint = endpoint
        self.sid = sid
        self._pipe: _Pipe | None = None

    async def open(self) -> list[str | bytes]:
        io = self.link.io
        if not io.accepting:
            # As connecting to a port nobody listens on (the server was closed).
            raise ConnectionRefusedError("the server is not running (closed?)")
        request = _request(self.endpoint, self.sid)
        engine = io.engine
        refusal: HTTPError | None
        if not io.router.is_engine_path(request.path):
            refusal = HTTPError(404, b"Not Found")
        else:
            refusal = engine.check(request, websocket=True) or await _authorize(engine, request)
        if refusal is not None:
            # What the network client raises for a handshake answered with an error.
            raise RemoteProtocolError(f"expected status 101, got {refusal.status}")
        engine.websocket_headers(request)  # chooses the sid when the cookie option is on
        pipe = self._pipe = self.link.pipe = _Pipe(engine)
        pipe.session = engine.open_websocket(request, pipe)
        if self.sid is None:
            return await pipe.take()  # the OPEN packet, sent by open_websocket
        return []

    async def receive(self) -> list[str | bytes]:
        if self._pipe is None:
            raise EOFError("the WebSocket is not open")
        return await self._pipe.take()

    async def send(self, packets: list[str | bytes]) -> None:
        if self._pipe is None:
            raise EOFError("the WebSocket is not open")
        self._pipe.put(packets)

    def close(self) -> None:
        if self._pipe is not None:
            self._pipe.hang_up()


def _request(endpoint: Endpoint, sid: str | None) -> HTTPRequest:
    """The WebSocket handshake request the network client would send, as a front door
    hands it to the engine (lower-case header names, repeated ones joined)."""
    query = {**endpoint.query, "EIO": "4", "transport": "websocket"}
    if sid is not None:
        query["sid"] = sid
    headers = {
        "host": endpoint.address.host_header,
        "upgrade": "websocket",
        "connection": "Upgrade",
        "sec-websocket-version": "13",
    }
    for raw_name, value in endpoint.headers:
        name = raw_name.lower()
        previous = headers.get(name)
        headers[name] = value if previous is None else f"{previous}, {value}"
    return HTTPRequest(
        method="GET",
        path=endpoint.path,
        query=query,
        headers=headers,
        client=("127.0.0.1", next(_ports)),
        scheme="http",
        raw_query=urlencode(query),
    )


async def _authorize(engine: EngineServer, request: HTTPRequest) -> HTTPError | None:
    """``allow_request``'s verdict on the handshake (None: allowed)."""
    verdict: asyncio.Future[HTTPError | None] = asyncio.get_running_loop().create_future()

    def decided(refusal: HTTPError | None) -> None:
        if not verdict.done():  # the attempt may have timed out meanwhile
            verdict.set_result(refusal)

    engine.authorize(request, decided)
    return await verdict


class _Link:
    """The transport factory of one in-memory client's manager: each connection attempt
    (the first and every reconnection) gets a new pipe to the server, and :func:`drop`
    finds the current one here."""

    __slots__ = ("io", "pipe")

    def __init__(self, io: Server) -> None:
        self.io = io
        self.pipe: _Pipe | None = None

    def __call__(self, name: str, endpoint: Endpoint, sid: str | None) -> Transport:
        if name != "websocket":
            raise ValueError(f"only the websocket transport exists in memory, not {name!r}")
        return _MemoryWebSocket(self, endpoint, sid)


# -- connecting ---------------------------------------------------------------------------


def connect(
    io: Server,
    namespace: str = "/",
    *,
    auth: AuthSource = None,
    headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
    query: Mapping[str, str] | None = None,
    **options: Unpack[ConnectOptions],
) -> _Connecting:
    """A client of ``io``'s ``namespace``, connected in memory.

    Use it as ``async with connect(io) as client:`` (the client is disconnected at the
    end of the block) or as ``client = await connect(io)`` (disconnect it yourself). The
    client is an ordinary :class:`aiosio.Client` on a connection of its own; another
    namespace can share that connection with ``client.io.socket("/other")``.

    ``io`` is started if it is not running (:meth:`~aiosio.Server.startup`, no port) and
    is left running: one client's end must not close a server that the test may hold for
    more clients, or whose ``await io.close()`` it may be checking. A server left running
    when a test's event loop ends is started afresh in the next one. :func:`serve` is
    the form that closes the server it started.

    Args:
        io: The server.
        namespace: The namespace to join, ``/`` by default.
        auth: The CONNECT payload (``socket.handshake.auth``), or a function returning it.
        headers: Extra handshake headers (``socket.handshake.headers``).
        query: Extra query parameters (``socket.handshake.query``).
        **options: :class:`ConnectOptions`.

    Returns:
        An awaitable that gives the connected client, which is also an async context
        manager that disconnects the client at the end of its block.

    Raises:
        aiosio.ConnectionError: The server refused (a middleware raised
            :class:`~aiosio.ConnectionRefused`: its message and data), or is closed.
    """
    return _Connecting(io, namespace, auth, headers, query, options)


class _Connecting:
    """What :func:`connect` returns: awaitable, and an async context manager."""

    __slots__ = ("_auth", "_client", "_headers", "_io", "_namespace", "_options", "_query")

    def __init__(
        self,
        io: Server,
        namespace: str,
        auth: AuthSource,
        headers: Mapping[str, str] | Sequence[tuple[str, str]] | None,
        query: Mapping[str, str] | None,
        options: ConnectOptions,
    ) -> None:
        self._io = io
        self._namespace = namespace if namespace.startswith("/") else "/" + namespace
        self._auth = auth
        self._headers = headers
        self._query = query
        self._options = options
        self._client: Client | None = None

    def __await__(self) -> Generator[Any, None, Client]:
        return self._open().__await__()

    async def __aenter__(self) -> Client:
        self._client = await self._open()
        return self._client

    async def __aexit__(self, *exc_info: object) -> None:
        client, self._client = self._client, None
        if client is not None:
            await _disconnect(client)

    async def _open(self) -> Client:
        io = self._io
        await io.startup()
        options: dict[str, Any] = {
            "parser": io.parser,
            "reconnection_delay": 0.001,
            "reconnection_delay_max": 0.05,
            **self._options,
            "auth": self._auth,
            "query": dict(self._query or {}),
            "extra_headers": self._headers or (),
            "path": io.router.path,
            "transports": ("websocket",),
            "upgrade": False,
            "force_new": True,
            "transport_factory": _Link(io),
        }
        client = Client(f"http://{_HOST}{self._namespace}", **options)
        await client.connect()  # on failure, the client cleans up after itself
        return client


async def _disconnect(client: Client) -> None:
    """Disconnect ``client``, then close its connection even if other namespaces
    (``client.io.socket(...)``) still use it."""
    await client.disconnect()
    manager = client.io
    if manager.state is not ManagerState.CLOSED or manager.engine is not None:
        await manager.disconnect()


def drop(peer: Client | Socket) -> None:
    """Cut the connection of an in-memory client abruptly, as a network failure would.

    There is no close handshake and what is in flight either way is lost. Both ends see
    "transport error" a moment later (one loop step, as when a connection resets):
    the server-side sockets disconnect with it and the client reconnects (unless
    ``reconnection=False``), which is what connection state recovery is for: with it,
    the client gets the events it missed and ``socket.recovered`` is True.

    Nothing happens when the connection is closed already.

    Args:
        peer: The client, or its socket on the server (it cuts the same connection).

    Raises:
        ValueError: ``peer`` is not connected through this module.
    """
    if isinstance(peer, Socket):
        ws = peer.conn.session.ws
        if ws is None:
            return
        if not isinstance(ws, _Pipe):
            raise ValueError(f"{peer!r} is not connected in memory (aiosio.testing)")
        ws.cut()
        return
    link = peer.io.transport_factory
    if not isinstance(link, _Link):
        raise ValueError(f"{peer!r} is not connected in memory (aiosio.testing)")
    if link.pipe is not None:
        link.pipe.cut()


# -- several clients ----------------------------------------------------------------------


def serve(io: Server) -> InMemoryServer:
    """Serve ``io`` in memory for the length of an ``async with`` block.

    Open clients with :meth:`InMemoryServer.connect`; at the end of the block they are
    disconnected, and ``io`` is closed if this started it (one running already was
    started by someone else, who closes it). As a pytest fixture::

        @pytest.fixture
        async def server() -> AsyncIterator[aiosio.testing.InMemoryServer]:
            async with aiosio.testing.serve(app.io) as server:
                yield server

    Args:
        io: The server to serve.

    Returns:
        An async context manager whose value opens clients.
    """
    return InMemoryServer(io)


class InMemoryServer:
    """A server served in memory, and the clients opened on it (see :func:`serve`).

    Args:
        io: The server; :func:`serve` starts it and closes it.
    """

    def __init__(self, io: Server) -> None:
        self.io = io
        self.clients: list[Client] = []
        """The clients opened by :meth:`connect` and not yet disconnected by the end."""
        self._started = False

    async def __aenter__(self) -> InMemoryServer:
        self._started = await self.io.startup()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        clients, self.clients = self.clients, []
        try:
            for client in reversed(clients):
                await _disconnect(client)
        finally:
            if self._started:
                self._started = False
                await self.io.close()

    async def connect(
        self,
        namespace: str = "/",
        *,
        auth: AuthSource = None,
        headers: Mapping[str, str] | Sequence[tuple[str, str]] | None = None,
        query: Mapping[str, str] | None = None,
        **options: Unpack[ConnectOptions],
    ) -> Client:
        """A connected client, as :func:`connect` gives, disconnected at the end of the block.

        Args:
            namespace: The namespace to connect to.
            auth: The CONNECT payload (or a function that returns it).
            headers: The handshake's HTTP headers.
            query: The handshake's query parameters.
            **options: The client options that mean something in memory.

        Returns:
            The connected client.

        Raises:
            ConnectionError: The server refused the connection (a middleware, ``allow_request``).
        """
        client = await connect(
            self.io, namespace, auth=auth, headers=headers, query=query, **options
        )
        self.clients.append(client)
        return client
