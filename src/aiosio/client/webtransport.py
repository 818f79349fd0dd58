"""The client's WebTransport transport (HTTP/3 with aioquic; the ``webtransport`` extra).

One QUIC connection, one WebTransport session (an extended ``CONNECT`` to the engine's
path, with the same query as the other transports), one bidirectional stream whose first
packet is the handshake: ``0`` for a new session, ``0{"sid":"..."}`` for an upgrade from
polling (engine.io protocol v4). Packets are framed by :mod:`aiosio.engineio.wt_framing`.

Options (the manager's ``webtransport`` mapping): ``port``, the server's UDP port (the
URL's by default); ``certificate_hashes``, SHA-256 digests of certificates to accept
without a CA, as the browser's ``serverCertificateHashes``; ``verify`` (True), False to
accept any certificate (tests only).

Errors are those of :data:`~aiosio.client.transports.TRANSPORT_ERRORS`: :class:`OSError`
when the server cannot be reached or its certificate is refused, :class:`EOFError` when
the session ends, :class:`~aiosio.exceptions.ConnectionError` when it is refused.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections.abc import Mapping, Sequence
from typing import Any, cast

from aioquic.asyncio.protocol import QuicConnectionProtocol
from aioquic.h3.connection import H3_ALPN, FrameType, H3Connection
from aioquic.h3.events import DataReceived, H3Event, HeadersReceived, WebTransportStreamDataReceived
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.events import ConnectionTerminated, QuicEvent, StreamReset
from cryptography.hazmat.primitives.serialization import Encoding

from aiosio.client.transports import Endpoint
from aiosio.engineio.wt_framing import FramingError, StreamDecoder, encode_packet
from aiosio.exceptions import ConnectionError

__all__ = ["WebTransport"]


class _Protocol(QuicConnectionProtocol):
    """The QUIC connection of one transport: HTTP/3 events to the transport."""

    def __init__(self, quic: QuicConnection, owner: WebTransport) -> None:
        super().__init__(quic)
        self.owner = owner
        self.http = H3Connection(quic, enable_webtransport=True)

    def quic_event_received(self, event: QuicEvent) -> None:
        if isinstance(event, ConnectionTerminated):
            self.owner._end(EOFError(f"QUIC connection closed: {event.reason_phrase}"))
            return
        if isinstance(event, StreamReset):
            self.owner._end(EOFError("the server reset the stream"))
        for h3_event in self.http.handle_event(event):
            self.owner._on_h3(h3_event)


class WebTransport:
    """Engine.IO over one WebTransport session."""

    name = "webtransport"

    def __init__(self, endpoint: Endpoint, sid: str | None = None) -> None:
        self.endpoint = endpoint
        self.sid = sid
        self._decoder = StreamDecoder(endpoint.max_message_size)
        self._protocol: _Protocol | None = None
        self._transport: asyncio.DatagramTransport | None = None
        self._session_id: int | None = None
        self._stream_id: int | None = None
        self._answer: asyncio.Future[int] | None = None
        self._pending: list[str | bytes] = []
        self._arrived = asyncio.Event()
        self._error: BaseException | None = None

    async def open(self) -> list[str | bytes]:
        try:
            return await self._open()
        except BaseException:
            self.close()
            raise

    async def _open(self) -> list[str | bytes]:
        endpoint = self.endpoint
        options: Mapping[str, Any] = endpoint.webtransport
        address = endpoint.address
        port = int(options.get("port", address.port))
        hashes = [
            bytes(digest) for digest in cast(Sequence[Any], options.get("certificate_hashes", ()))
        ]
        configuration = QuicConfiguration(
            is_client=True,
            alpn_protocols=H3_ALPN,
            max_datagram_frame_size=65536,
            server_name=address.host,
        )
        if hashes or not options.get("verify", True):
            configuration.verify_mode = ssl.CERT_NONE  # the digest is checked below
        loop = asyncio.get_running_loop()
        quic = QuicConnection(configuration=configuration)
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: _Protocol(quic, self), remote_addr=(address.host, port)
        )
        self._transport, self._protocol = transport, protocol
        protocol.connect(transport.get_extra_info("peername"))
        await protocol.wait_connected()
        if hashes:
            self._check_certificate(quic, hashes)
        http = protocol.http
        session_id = self._session_id = quic.get_next_available_stream_id()
        self._answer = loop.create_future()
        headers = [
            (b":method", b"CONNECT"),
            (b":protocol", b"webtransport"),
            (b":scheme", b"https"),
            (b":authority", f"{address.host_header}".encode()),
            (b":path", endpoint.target(self.name, self.sid).encode()),
        ]
        extra = list(endpoint.headers)
        cookie = endpoint.jar.header() if endpoint.jar is not None else None
        if cookie is not None:
            extra.append(("cookie", cookie))
        headers.extend((name.lower().encode(), value.encode()) for name, value in extra)
        http.send_headers(session_id, headers)
        protocol.transmit()
        status = await self._answer
        if status != 200:
            raise ConnectionError(f"HTTP {status} from the WebTransport endpoint")
        stream_id = self._stream_id = http.create_webtransport_stream(session_id)
        # aioquic marks a bidirectional WebTransport stream as such only when the peer
        # opened it; ours must be marked too, or the server's bytes on it would be parsed
        # as HTTP/3 frames.
        with http._get_or_create_stream(stream_id) as state:
            state.frame_type = FrameType.WEBTRANSPORT_STREAM
            state.session_id = session_id
        self._write(self._hello())
        if self.sid is None:
            return await self.receive()
        return []

    def _hello(self) -> bytes:
        """The handshake: OPEN, with the sid when upgrading."""
        return encode_packet("0" if self.sid is None else f'0{{"sid":"{self.sid}"}}')

    @staticmethod
    def _check_certificate(quic: QuicConnection, hashes: list[bytes]) -> None:
        certificate = quic.tls._peer_certificate
        der = certificate.public_bytes(Encoding.DER) if certificate is not None else b""
        if hashlib.sha256(der).digest() not in hashes:
            raise ssl.SSLCertVerificationError("certificate not in certificate_hashes")

    def _on_h3(self, event: H3Event) -> None:
        answer = self._answer
        if isinstance(event, HeadersReceived) and event.stream_id == self._session_id:
            status = dict(event.headers).get(b":status", b"0")
            if answer is not None and not answer.done():
                answer.set_result(int(status) if status.isdigit() else 0)
            if event.stream_ended:
                self._end(EOFError("the server ended the session"))
        elif isinstance(event, WebTransportStreamDataReceived):
            if event.stream_id != self._stream_id:
                return
            try:
                self._pending.extend(self._decoder.feed(event.data))
            except FramingError as exc:
                self._end(exc)
                return
            self._arrived.set()
            if event.stream_ended:
                self._end(EOFError("the server ended the stream"))
        elif (
            isinstance(event, DataReceived)
            and event.stream_id == self._session_id
            and event.stream_ended
        ):
            self._end(EOFError("the server closed the session"))

    def _end(self, error: BaseException) -> None:
        if self._error is None:
            self._error = error
        answer = self._answer
        if answer is not None and not answer.done():
            answer.set_exception(error)
        self._arrived.set()

    async def receive(self) -> list[str | bytes]:
        while not self._pending:
            if self._error is not None:
                raise self._error
            self._arrived.clear()
            await self._arrived.wait()
        packets, self._pending = self._pending, []
        return packets

    async def send(self, packets: list[str | bytes]) -> None:
        if self._error is not None or self._stream_id is None:
            raise EOFError("the WebTransport session is closed")
        self._write(b"".join(encode_packet(packet) for packet in packets))

    def _write(self, data: bytes) -> None:
        protocol = self._protocol
        assert protocol is not None and self._stream_id is not None
        protocol._quic.send_stream_data(self._stream_id, data, end_stream=False)
        protocol.transmit()

    def close(self) -> None:
        """Close the session and the QUIC connection at once."""
        self._end(EOFError("closed"))
        protocol, transport = self._protocol, self._transport
        self._protocol = self._transport = None
        if protocol is not None:
            protocol.close()
        if transport is not None:
            transport.close()
