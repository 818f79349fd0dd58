"""Engine.IO over WebTransport: an HTTP/3 endpoint (aioquic) beside the TCP front door.

``io.start(..., webtransport={"port": 3443, "certfile": ..., "keyfile": ...})`` (and
``io.run``) opens a QUIC socket on UDP. A client opens a WebTransport session with an
extended ``CONNECT`` (``:protocol webtransport``) to the engine's path, then one
bidirectional stream; its first packet is the handshake (engine.io protocol v4,
"WebTransport"): ``0`` opens a new session, ``0{"sid":"..."}`` upgrades a polling one
(then ``2probe``/``3probe``/``5`` as for WebSocket). Packets are framed by
:mod:`aiosio.engineio.wt_framing`.

To the engine a stream is one more kind of WebSocket (:class:`WebTransportStream` has
``send_items``, ``close`` and ``buffered``), so heartbeats, the upgrade, the outbox
limits and Socket.IO above are unchanged. Limits: one session per QUIC connection, one
stream per session, the handshake within ``upgrade_timeout``, packets of at most
``max_http_buffer_size``; a breach closes the session.

Browsers accept a self-signed certificate for WebTransport only through
``serverCertificateHashes``, and then only an ECDSA P-256 one valid for at most 14 days:
:func:`self_signed_certificate` makes one (for development and tests).

Needs the ``webtransport`` extra (aioquic).
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import ipaddress
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.asyncio.server import QuicServer
from aioquic.asyncio.server import serve as quic_serve
from aioquic.h3.connection import H3_ALPN, H3Connection
from aioquic.h3.events import DataReceived, H3Event, HeadersReceived, WebTransportStreamDataReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import ConnectionTerminated, ProtocolNegotiated, QuicEvent, StreamReset
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from aiosio.engineio.handshake import HTTPError
from aiosio.engineio.session import CloseReason, State
from aiosio.engineio.wire import Wire
from aiosio.engineio.wt_framing import FramingError, StreamDecoder, encode_packet, handshake_sid
from aiosio.server.http import HTTPRequest

if TYPE_CHECKING:
    from aiosio.server.engine import EngineServer
    from aiosio.server.session import ServerSession

__all__ = [
    "WebTransportServer",
    "WebTransportStream",
    "self_signed_certificate",
    "serve_webtransport",
]

logger = logging.getLogger("aiosio.webtransport")

NAME = "webtransport"
_LINGER = 2.0  # seconds a closed session's connection stays, for its last packets


class WebTransportStream:
    """The bidirectional stream of one WebTransport session, as the engine sees it."""

    transport_name = NAME
    """The engine names the session's transport after an upgrade with it."""

    def __init__(self, protocol: _Protocol, stream_id: int, request: HTTPRequest) -> None:
        self.protocol = protocol
        self.stream_id = stream_id
        self.request = request
        self.engine = protocol.engine
        self.session: ServerSession | None = None
        self._decoder = StreamDecoder(self.engine.max_http_buffer_size)
        self._handshaking = True
        self._closed = False

    def feed(self, data: bytes) -> None:
        """Bytes arrived on the stream."""
        try:
            packets = self._decoder.feed(data)
        except FramingError as exc:
            logger.debug("webtransport: %s", exc)
            self._fail(CloseReason.PARSE_ERROR)
            return
        for packet in packets:
            if self._closed:
                return
            session = self.session
            if self._handshaking:
                self._handshaking = False
                self._handshake(packet)
            elif session is not None:
                self.engine.websocket_message(session, self, packet)
            else:  # packets before an asynchronous allow_request decided
                self.close()

    def _handshake(self, packet: str | bytes) -> None:
        try:
            sid = handshake_sid(packet)
        except FramingError as exc:
            logger.debug("webtransport: %s", exc)
            self.close()
            return
        engine = self.engine
        if sid is None:
            # The packet says: a new session. A sid in the CONNECT's query must not make it
            # pass for an upgrade (which skips allow_request and the admission limits).
            self.request.query.pop("sid", None)
            engine.authorize(self.request, self._open)
            return
        session = engine.begin_upgrade(sid, self)
        if session is None:
            self.close()
            return
        self.session = session

    def _open(self, error: HTTPError | None) -> None:
        if self._closed:
            return
        if error is not None:
            self.close()
            return
        engine = self.engine
        session = self.session = engine.new_session(self.request, NAME)
        session.ws = self
        self.send_items([engine.open_packet(session, [])])
        engine.opened(session, self.request)

    def _fail(self, reason: str) -> None:
        session = self.session
        if session is not None:
            self.engine.websocket_error(session, self, reason)
        self.close()

    def ended(self, *, error: bool = False) -> None:
        """The client ended the stream or the session, or the connection was lost."""
        if self._closed:
            return
        self._closed = True
        session = self.session
        if session is not None:
            self.engine.websocket_closed(session, self, error=error)
        self.protocol.forget(self)

    # -- what the engine calls ------------------------------------------------------------

    def send_items(self, items: list[object]) -> None:
        """Write engine packets, framed, in one go."""
        if self._closed:
            return
        data = b"".join(
            encode_packet(item.data if type(item) is Wire else item)  # type: ignore[arg-type]
            for item in items
        )
        self.protocol.write(self.stream_id, data)

    def close(self, code: int = 1000) -> None:
        """End the stream and the session (the client sees its WebTransport close)."""
        if self._closed:
            return
        self._closed = True
        self.protocol.end(self)
        session = self.session
        if session is not None and session.state is not State.CLOSED:
            self.engine.websocket_closed(session, self)

    def buffered(self) -> int:
        """Bytes written but not yet acknowledged by the peer."""
        return self.protocol.buffered(self.stream_id)


class _Protocol(QuicConnectionProtocol):
    """One QUIC connection: HTTP/3, at most one WebTransport session and its stream."""

    def __init__(self, *args: Any, endpoint: WebTransportServer, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.endpoint = endpoint
        self.engine = endpoint.engine
        self._http: H3Connection | None = None
        self._session_id: int | None = None
        self._request: HTTPRequest | None = None
        self._stream: WebTransportStream | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._linger: asyncio.TimerHandle | None = None
        self._closed_once = False

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, ProtocolNegotiated) and event.alpn_protocol in H3_ALPN:
            self._http = H3Connection(self._quic, enable_webtransport=True)
        elif isinstance(event, ConnectionTerminated):
            self._lost()
            return
        elif (
            isinstance(event, StreamReset)
            and self._stream is not None
            and event.stream_id in (self._stream.stream_id, self._session_id)
        ):
            self._stream.ended(error=True)
        if self._http is not None:
            for h3_event in self._http.handle_event(event):
                self._on_h3(h3_event)

    def _on_h3(self, event: H3Event) -> None:
        if isinstance(event, HeadersReceived):
            self._on_connect(event.stream_id, event.headers)
        elif isinstance(event, WebTransportStreamDataReceived):
            self._on_stream_data(event)
        elif (
            isinstance(event, DataReceived)
            and event.stream_id == self._session_id
            and event.stream_ended
            and self._stream is not None
        ):
            self._stream.ended()  # the client closed the session

    def _on_connect(self, stream_id: int, raw: list[tuple[bytes, bytes]]) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw}
        target = urlsplit(headers.get(":path", ""))
        if (
            headers.get(":method") != "CONNECT"
            or headers.get(":protocol") != NAME
            or target.path.rstrip("/") != self.endpoint.path.rstrip("/")
        ):
            self._answer(stream_id, 404, end=True)
            return
        if self._session_id is not None or self._closed_once:  # one session per connection
            self._answer(stream_id, 429, end=True)
            return
        request = HTTPRequest(
            "GET",
            target.path,
            dict(parse_qsl(target.query)),
            {k: v for k, v in headers.items() if not k.startswith(":")},
            client=self._client_address(),
            scheme="https",
            raw_query=target.query,
        )
        engine = self.engine
        if self.endpoint.closing:  # shutting down
            self._answer(stream_id, 503, end=True)
            return
        if NAME not in engine.transports or engine.check_origin(request) is not None:
            self._answer(stream_id, 403, end=True)
            return
        admission = engine.admission
        if admission is not None and request.client is not None:  # connections_per_ip
            refusal = admission.connection(request.client[0], engine.loop.time())
            if refusal is not None:
                self._answer(stream_id, refusal.status, end=True)
                return
        self._session_id = stream_id
        self._closed_once = True
        self._request = request
        self._answer(stream_id, 200, end=False)
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(self.engine.upgrade_timeout, self._too_slow)

    def _client_address(self) -> tuple[str, int] | None:
        address = self._transport.get_extra_info("peername") if self._transport else None
        return (str(address[0]), int(address[1])) if address else None

    def _answer(self, stream_id: int, status: int, *, end: bool) -> None:
        assert self._http is not None
        headers = [(b":status", str(status).encode())]
        if status == 200:
            headers.append((b"sec-webtransport-http3-draft", b"draft02"))
        self._http.send_headers(stream_id, headers, end_stream=end)
        self.transmit()

    def _on_stream_data(self, event: WebTransportStreamDataReceived) -> None:
        if event.session_id != self._session_id or self._request is None:
            return
        stream = self._stream
        if stream is None:
            if self._deadline is None:  # a second stream, or one after the first ended
                self._quic.reset_stream(event.stream_id, 0)
                self.transmit()
                return
            self._deadline.cancel()
            self._deadline = None
            stream = self._stream = WebTransportStream(self, event.stream_id, self._request)
        elif event.stream_id != stream.stream_id:
            return
        if event.data:
            stream.feed(event.data)
        if event.stream_ended:
            stream.ended()

    def _too_slow(self) -> None:
        self._deadline = None
        if self._stream is None:
            self._close_session()

    def _close_session(self) -> None:
        """End the session's CONNECT stream; the connection goes after a grace period,
        in which what was written still reaches the client (unless it closes first)."""
        session_id, self._session_id = self._session_id, None
        if session_id is not None and self._http is not None:
            self._http.send_data(session_id, b"", end_stream=True)
            self.transmit()
        if self._linger is None:
            loop = asyncio.get_running_loop()
            self._linger = loop.call_later(_LINGER, self._close_connection)

    def _close_connection(self) -> None:
        self._quic.close()
        self.transmit()

    def _lost(self) -> None:
        for handle in (self._deadline, self._linger):
            if handle is not None:
                handle.cancel()
        self._deadline = self._linger = None
        if self._stream is not None:
            self._stream.ended(error=True)

    # -- what a stream calls -------------------------------------------------------------

    def write(self, stream_id: int, data: bytes) -> None:
        self._quic.send_stream_data(stream_id, data, end_stream=False)
        self.transmit()

    def end(self, stream: WebTransportStream) -> None:
        """The server closes the stream and its session."""
        self._quic.send_stream_data(stream.stream_id, b"", end_stream=True)
        self._close_session()

    def forget(self, stream: WebTransportStream) -> None:
        if self._stream is stream:
            self._close_session()

    def buffered(self, stream_id: int) -> int:
        # aioquic keeps what the peer has not acknowledged in the stream's send buffer.
        stream = self._quic._streams.get(stream_id)
        sender = getattr(stream, "sender", None)
        buffer = getattr(sender, "_buffer", b"")
        return len(buffer)


class WebTransportServer:
    """The HTTP/3 listener, closed with the server (it has a listener's ``close`` and
    ``wait_closed``).

    One UDP socket carries every QUIC connection, so :meth:`close` cannot close it at
    once as a TCP listener is closed: the sessions still have their goodbyes to send when
    the server shuts down gracefully. It refuses new sessions instead (503), and the
    socket goes in :meth:`wait_closed`, which the server awaits once its sessions are
    closed, or a little later in any case.
    """

    def __init__(self, engine: EngineServer, path: str) -> None:
        self.engine = engine
        self.path = path
        self.quic: QuicServer | None = None
        self.closing = False
        self._fallback: asyncio.TimerHandle | None = None

    @property
    def port(self) -> int:
        assert self.quic is not None
        transport = self.quic._transport
        assert transport is not None
        port: int = transport.get_extra_info("sockname")[1]
        return port

    def close(self) -> None:
        """Refuse new sessions; the socket closes in :meth:`wait_closed` (or soon)."""
        if self.closing:
            return
        self.closing = True
        self._fallback = asyncio.get_running_loop().call_later(_LINGER, self._shutdown)

    def _shutdown(self) -> None:
        if self._fallback is not None:
            self._fallback.cancel()
            self._fallback = None
        quic, self.quic = self.quic, None
        if quic is not None:
            quic.close()

    async def wait_closed(self) -> None:
        """Close the socket and every QUIC connection (after :meth:`close`)."""
        self._shutdown()


@dataclass(frozen=True, slots=True)
class _Options:
    port: int
    certfile: str
    keyfile: str
    host: str | None = None


async def serve_webtransport(
    engine: EngineServer, path: str, host: str, options: Mapping[str, Any]
) -> WebTransportServer:
    """Open the HTTP/3 endpoint; ``options``: ``port`` (0 for any), ``certfile``,
    ``keyfile`` (PEM), ``host`` (the TCP server's by default).

    Raises:
        TypeError: For an unknown or missing option.
    """
    settings = _Options(**options)
    configuration = QuicConfiguration(
        is_client=False, alpn_protocols=H3_ALPN, max_datagram_frame_size=65536
    )
    configuration.load_cert_chain(settings.certfile, settings.keyfile)
    server = WebTransportServer(engine, path)
    server.quic = await quic_serve(
        settings.host or host,
        settings.port,
        configuration=configuration,
        create_protocol=lambda *a, **k: _Protocol(*a, endpoint=server, **k),
    )
    return server


def self_signed_certificate(
    hosts: tuple[str, ...] = ("localhost", "127.0.0.1"), days: int = 10
) -> tuple[bytes, bytes, bytes]:
    """A self-signed ECDSA P-256 certificate for ``hosts``, valid ``days`` (at most 14).

    Returns:
        The certificate and its private key (PEM), and the certificate's SHA-256 digest,
        which a browser takes in ``serverCertificateHashes``.

    Raises:
        ValueError: For more than 14 days (browsers refuse such a certificate).
    """
    if not 0 < days <= 14:
        raise ValueError("serverCertificateHashes accepts certificates of at most 14 days")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    now = datetime.datetime.now(datetime.UTC)
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days) - datetime.timedelta(minutes=10))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(key, hashes.SHA256())
    )
    der = certificate.public_bytes(serialization.Encoding.DER)
    return (
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        hashlib.sha256(der).digest(),
    )
