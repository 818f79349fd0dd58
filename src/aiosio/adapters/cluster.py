"""ClusterAdapter: the inter-server protocol of ``socket.io-adapter``, written once.

Every server of a cluster keeps its own sockets and rooms (it is an :class:`InMemoryAdapter`)
and forwards the operations that may reach other servers as :class:`ClusterMessage` values:
broadcasts (with or without acknowledgements), room joins and leaves, disconnections,
``fetch_sockets`` and server-side emits. A backend only implements :meth:`ClusterAdapter.publish`
(and :meth:`ClusterAdapter.server_count`), and hands the messages it receives to
:meth:`ClusterAdapter.on_message`.

Requests that expect answers (``fetch_sockets``, ``server_side_emit`` with a timeout, and the
counts of a broadcast with acknowledgements) wait for ``server_count() - 1`` responses, as the
reference does, and fail with :class:`~aiosio.exceptions.ClusterError` after
``requests_timeout`` seconds (5 s, as in Node).

Beyond the reference, a server running aiosio answers a broadcast with acknowledgements with the
ids of the sockets it asked (``sids`` in its count, ``sid`` in each answer): extension fields
that Node ignores, so the requester can key every answer by socket id and name the sockets
that stayed silent. Counts and answers without them (from Node) get names of their own,
``anonymous#<n>``, numbered per broadcast in the order the answers come.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Callable, Coroutine
from typing import Any

from aiosio._tasks import spawn
from aiosio.adapters.base import AckCollector, BroadcastOptions, Host, SocketLike
from aiosio.adapters.cluster_requests import PendingAcks, PendingRequest, Requester, new_request_id
from aiosio.adapters.memory import InMemoryAdapter
from aiosio.adapters.messages import (
    RESPONSES,
    ClusterMessage,
    MessageType,
    decode_options,
    decode_packet,
    encode_options,
    encode_packet,
    names,
    socket_details,
)
from aiosio.exceptions import ClusterError, LocalProtocolError, RemoteProtocolError
from aiosio.socketio.packets import Packet

__all__ = [
    "ClusterAdapter",
    "ClusterMessage",
    "LinkedAdapter",
    "MessageType",
    "decode_options",
    "decode_packet",
    "encode_options",
    "encode_packet",
]

logger = logging.getLogger("aiosio.cluster")

DEFAULT_TIMEOUT = 5.0  # seconds; socket.io-adapter's DEFAULT_TIMEOUT and redis' requestsTimeout


class LinkedAdapterFactory:
    """Makes the adapter of each namespace; all of them share one link to the backend.

    Subclasses name the adapter class; the server calls the factory with each namespace.
    """

    adapter_class: Callable[..., ClusterAdapter]

    def __init__(self, link: Any, **options: Any) -> None:
        """Keep what every adapter made gets: the one link, and the same options.

        Args:
            link: The link to the backend, shared by every adapter made.
            **options: The options of :attr:`adapter_class`, given to every adapter made.
        """
        self.link = link
        self.options = options

    def __call__(self, namespace: Host) -> Any:
        return self.adapter_class(namespace, self.link, **self.options)

    @property
    def healthy(self) -> bool:
        """Whether the shared link is up (the server's health path reads it)."""
        return bool(self.link.healthy)


class ClusterAdapter(InMemoryAdapter):
    """An adapter whose operations reach every server sharing its namespace.

    Subclasses implement :meth:`publish` and :meth:`server_count`, and pass what they
    receive to :meth:`on_message`.
    """

    def __init__(
        self,
        namespace: Host,
        *,
        requests_timeout: float = DEFAULT_TIMEOUT,
        max_pending_requests: int = 1000,
    ) -> None:
        super().__init__(namespace)
        self.uid = secrets.token_hex(8)
        self.requests_timeout = requests_timeout
        self.max_pending_requests = max_pending_requests
        self._requests: dict[str, PendingRequest] = {}
        self._ack_requests: dict[str, PendingAcks] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._last_warning: dict[str, float] = {}

    # -- what a backend provides --------------------------------------------------------

    def publish(self, message: ClusterMessage, *, to: str | None = None) -> None:
        """Send ``message`` to every other server, or with ``to`` to that server only.

        Must not block: a backend queues the message and keeps the order of publication.

        Raises:
            ClusterError: When the message cannot be sent (the backend is unreachable).
        """
        raise NotImplementedError

    async def server_count(self) -> int:
        """How many servers share the namespace, this one included (the backend counts).

        Returns:
            The count.
        """
        raise NotImplementedError

    async def close(self) -> None:
        """Stop: cancel the adapter's tasks and forget its pending requests."""
        for task in list(self._tasks):
            task.cancel()
        for request in self._requests.values():
            if not request.future.done():
                request.future.set_exception(ClusterError("the adapter was closed"))
        self._requests.clear()
        for ack in self._ack_requests.values():
            if ack.timer is not None:
                ack.timer.cancel()
        self._ack_requests.clear()

    # -- helpers ------------------------------------------------------------------------

    def message(self, type: MessageType, data: dict[str, Any] | None = None) -> ClusterMessage:
        """A message from this server in this namespace.

        Args:
            type: The message type.
            data: Its payload; None sends an empty one.

        Returns:
            The message, with this server's uid.
        """
        return ClusterMessage(type, self.uid, self.namespace.name, data or {})

    def warn(self, kind: str, text: str, *args: Any) -> None:
        """Log a warning, at most once every 10 s per kind (a dead Redis repeats itself).

        Args:
            kind: What the warning is about; one warning per kind per 10 s.
            text: The message, with ``%`` placeholders.
            *args: The placeholders' values.
        """
        now = time.monotonic()
        if now - self._last_warning.get(kind, -1e9) >= 10.0:
            self._last_warning[kind] = now
            logger.warning(text, *args)

    def _try_publish(self, message: ClusterMessage, *, to: str | None = None) -> None:
        try:
            self.publish(message, to=to)
        except ClusterError as exc:
            self.warn("publish", "cluster message %s not sent: %s", message.type.name, exc)

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        spawn(coro, self._tasks, logger, "cluster task failed")

    async def _others(self) -> int:
        try:
            async with asyncio.timeout(self.requests_timeout):
                return await self.server_count() - 1
        except TimeoutError:
            raise ClusterError("timeout reached while counting the servers") from None

    # -- operations ---------------------------------------------------------------------

    def broadcast(self, packet: Packet, options: BroadcastOptions) -> None:
        """Deliver to this server's matching sockets and publish to the others.

        Args:
            packet: The packet.
            options: The rooms, exclusions and flags; with ``local`` nothing is published.
        """
        if not options.flags.local:
            data = {"packet": encode_packet(packet), "opts": encode_options(options)}
            self._try_publish(self.message(MessageType.BROADCAST, data))
        self.local_broadcast(packet, options)

    def broadcast_with_ack(
        self, packet: Packet, options: BroadcastOptions, collector: AckCollector
    ) -> None:
        """Broadcast asking every recipient of the cluster for an ack.

        The local recipients are counted at once; ``collector.counted()`` waits for the other
        servers' counts (or the broadcast's timeout).

        Args:
            packet: The packet.
            options: The rooms, exclusions and flags.
            collector: Where the counts and answers go.
        """
        self.local_broadcast_with_ack(packet, options, collector)
        if options.flags.local:
            collector.counted()
            return
        self._spawn(self._remote_broadcast_with_ack(packet, options, collector))

    async def _remote_broadcast_with_ack(
        self, packet: Packet, options: BroadcastOptions, collector: AckCollector
    ) -> None:
        try:
            others = await self._others()
        except ClusterError as exc:
            self.warn("count", "broadcast with acks stays local: %s", exc)
            others = 0
        if others <= 0:
            collector.counted()
            return
        request_id = new_request_id()
        ack = PendingAcks(collector, others)
        # The reference forgets the request after the broadcast's timeout; so do we, and
        # then stop waiting for the counts of servers that never answered.
        delay = options.flags.timeout or self.requests_timeout
        ack.timer = asyncio.get_running_loop().call_later(delay, self._ack_expired, request_id)
        self._ack_requests[request_id] = ack
        data = {
            "packet": encode_packet(packet),
            "requestId": request_id,
            "opts": encode_options(options),
        }
        try:
            self.publish(self.message(MessageType.BROADCAST, data))
        except ClusterError as exc:
            self.warn("publish", "broadcast with acks stays local: %s", exc)
            self._ack_expired(request_id)

    def _ack_expired(self, request_id: str) -> None:
        ack = self._ack_requests.pop(request_id, None)
        if ack is not None and ack.servers > 0:
            ack.servers = 0
            ack.collector.counted()

    async def fetch_sockets(self, options: BroadcastOptions) -> list[SocketLike]:
        """The matching sockets of every server.

        Args:
            options: The rooms, exclusions and flags; with ``local`` only this server's.

        Returns:
            This server's sockets, and a stand-in for each socket of another server.

        Raises:
            ClusterError: The other servers did not all answer in time.
        """
        local: list[SocketLike] = list(self._targets(options))
        if options.flags.local:
            return local
        others = await self._others()
        if others <= 0:
            return local
        data = {"opts": encode_options(options)}
        timeout = options.flags.timeout or self.requests_timeout
        details = await self._request(MessageType.FETCH_SOCKETS, data, others, timeout)
        for detail in details:
            if isinstance(detail, dict) and isinstance(detail.get("id"), str):
                local.append(self.namespace.remote_socket(detail))
        return local

    async def _request(
        self, type: MessageType, data: dict[str, Any], expected: int, wait: float
    ) -> list[Any]:
        """Publish a request and gather ``expected`` responses within ``wait`` seconds.

        Raises:
            ClusterError: Too many pending requests, the request cannot be sent, or the
                responses did not all come in time.
        """
        if len(self._requests) >= self.max_pending_requests:
            raise ClusterError("too many pending cluster requests")
        request_id = new_request_id()
        request = PendingRequest(asyncio.get_running_loop().create_future(), expected)
        self._requests[request_id] = request
        try:
            self.publish(self.message(type, {**data, "requestId": request_id}))
            async with asyncio.timeout(wait):
                return await request.future
        except TimeoutError:
            raise ClusterError(
                f"timeout reached: only {request.current} responses received out of {expected}"
            ) from None
        finally:
            self._requests.pop(request_id, None)

    def add_sockets(self, options: BroadcastOptions, rooms: list[str]) -> None:
        """Make the matching sockets of every server join rooms.

        Args:
            options: Which sockets.
            rooms: The rooms to join.
        """
        self._tell_others(MessageType.SOCKETS_JOIN, options, rooms=list(rooms))
        super().add_sockets(options, rooms)

    def del_sockets(self, options: BroadcastOptions, rooms: list[str]) -> None:
        """Make the matching sockets of every server leave rooms.

        Args:
            options: Which sockets.
            rooms: The rooms to leave.
        """
        self._tell_others(MessageType.SOCKETS_LEAVE, options, rooms=list(rooms))
        super().del_sockets(options, rooms)

    def disconnect_sockets(self, options: BroadcastOptions, close: bool) -> None:
        """Disconnect the matching sockets of every server.

        Args:
            options: Which sockets.
            close: Also close their connections.
        """
        self._tell_others(MessageType.DISCONNECT_SOCKETS, options, close=close)
        super().disconnect_sockets(options, close)

    def _tell_others(self, type: MessageType, options: BroadcastOptions, **data: Any) -> None:
        """Publish an operation on the sockets ``options`` match to the other servers,
        unless it is local: ``{"opts": ..., **data}``, as the reference sends it."""
        if not options.flags.local:
            self._try_publish(self.message(type, {"opts": encode_options(options), **data}))

    async def server_side_emit(
        self,
        args: list[Any],
        *,
        timeout: float | None = None,
    ) -> list[Any]:
        """Emit to the namespace handlers of the other servers.

        Args:
            args: The event as ``[event, *args]``.
            timeout: Seconds to wait for every other server's answer; None awaits nothing
                (and ``[]`` is returned).

        Returns:
            The other servers' answers.

        Raises:
            ClusterError: The message cannot be sent, or some servers did not answer within
                ``timeout`` seconds.
        """
        if timeout is None:
            self.publish(self.message(MessageType.SERVER_SIDE_EMIT, {"packet": list(args)}))
            return []
        others = await self._others()
        if others <= 0:
            return []
        return await self._request(
            MessageType.SERVER_SIDE_EMIT, {"packet": list(args)}, others, timeout
        )

    # -- receiving ----------------------------------------------------------------------

    def on_message(self, message: ClusterMessage) -> None:
        """Handle a message from another server (or an emitter); bad ones are logged.

        Args:
            message: The decoded message; this server's own and other namespaces' are
                ignored.
        """
        if message.uid == self.uid or message.nsp != self.namespace.name:
            return
        try:
            self._dispatch(message)
        except (RemoteProtocolError, LocalProtocolError) as exc:
            self.warn("bad", "dropped a cluster message %s: %s", message.type.name, exc)

    def _dispatch(self, message: ClusterMessage) -> None:
        data = message.data
        match message.type:
            case MessageType.BROADCAST:
                packet = decode_packet(data.get("packet"), self.namespace.name)
                options = decode_options(data.get("opts"))
                request_id = data.get("requestId")
                if request_id is None:
                    self.local_broadcast(packet, options)
                else:
                    self._answer_broadcast_with_ack(message.uid, str(request_id), packet, options)
            case MessageType.SOCKETS_JOIN:
                InMemoryAdapter.add_sockets(
                    self,
                    decode_options(data.get("opts")),
                    sorted(names(data.get("rooms"), "rooms")),
                )
            case MessageType.SOCKETS_LEAVE:
                InMemoryAdapter.del_sockets(
                    self,
                    decode_options(data.get("opts")),
                    sorted(names(data.get("rooms"), "rooms")),
                )
            case MessageType.DISCONNECT_SOCKETS:
                InMemoryAdapter.disconnect_sockets(
                    self, decode_options(data.get("opts")), bool(data.get("close"))
                )
            case MessageType.FETCH_SOCKETS:
                sockets = [
                    socket_details(s) for s in self._targets(decode_options(data.get("opts")))
                ]
                response = {"requestId": data.get("requestId"), "sockets": sockets}
                self._try_publish(
                    self.message(MessageType.FETCH_SOCKETS_RESPONSE, response), to=message.uid
                )
            case MessageType.SERVER_SIDE_EMIT:
                self._on_server_side_emit(message)
            case _ if message.type in RESPONSES:
                self.on_response(message)
            case _:
                pass  # heartbeats, ADAPTER_CLOSE: this adapter counts servers through its backend

    def _answer_broadcast_with_ack(
        self, requester: str, request_id: str, packet: Packet, options: BroadcastOptions
    ) -> None:
        self.local_broadcast_with_ack(packet, options, Requester(self, requester, request_id))

    def _on_server_side_emit(self, message: ClusterMessage) -> None:
        packet = message.data.get("packet")
        if not isinstance(packet, list) or not packet or not isinstance(packet[0], str):
            raise RemoteProtocolError("server-side emit must be [event, ...args]")
        request_id = message.data.get("requestId")
        if request_id is None:
            self.namespace.on_server_side_emit(packet, None)
            return
        requester = message.uid

        def ack(answer: Any = None) -> None:
            data = {"requestId": request_id, "packet": answer}
            self._try_publish(
                self.message(MessageType.SERVER_SIDE_EMIT_RESPONSE, data), to=requester
            )

        self.namespace.on_server_side_emit(packet, ack)

    def on_response(self, message: ClusterMessage) -> None:
        """Handle a response to one of this server's requests.

        Args:
            message: The response; one to an unknown or finished request is ignored.
        """
        data = message.data
        request_id = data.get("requestId")
        if not isinstance(request_id, str):
            return
        match message.type:
            case MessageType.BROADCAST_CLIENT_COUNT:
                ack = self._ack_requests.get(request_id)
                count = data.get("clientCount")
                if ack is None or not isinstance(count, int) or ack.servers <= 0:
                    return
                ack.count(count, data.get("sids"))
                ack.servers -= 1
                if ack.servers == 0:
                    ack.collector.counted()
            case MessageType.BROADCAST_ACK:
                ack = self._ack_requests.get(request_id)
                if ack is not None:
                    ack.answer(data.get("sid"), data.get("packet"))
            case MessageType.FETCH_SOCKETS_RESPONSE:
                sockets = data.get("sockets")
                self._add_response(request_id, sockets if isinstance(sockets, list) else [])
            case MessageType.SERVER_SIDE_EMIT_RESPONSE:
                self._add_response(request_id, [data.get("packet")])
            case _:
                pass

    def _add_response(self, request_id: str, items: list[Any]) -> None:
        request = self._requests.get(request_id)
        if request is None or request.future.done():
            return
        request.current += 1
        request.responses.extend(items)
        if request.current >= request.expected:
            request.future.set_result(request.responses)


class LinkedAdapter(ClusterAdapter):
    """A cluster adapter on a link shared with the other namespaces (a Redis connection):
    started once, by :meth:`init` or on first use, and stopped once.

    Subclasses subscribe to what they hear in :meth:`_subscribe` (taking their share of
    the link) and undo it in :meth:`_unsubscribe`.
    """

    def __init__(
        self, namespace: Host, link: Any, *, requests_timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        super().__init__(namespace, requests_timeout=requests_timeout)
        self.link = link
        self._started = False
        self._starting = False
        self._closed = False

    @property
    def healthy(self) -> bool:
        """Whether the shared link is up."""
        return bool(self.link.healthy)

    async def init(self) -> None:
        """Start the link's subscriptions for this namespace, once, and wait for the link."""
        if self._started or self._closed:
            return
        self._started = True
        await super().init()
        await self._subscribe()
        await self.link.wait_ready(self.requests_timeout)

    async def close(self) -> None:
        """Stop: unsubscribe this namespace (an init started on first use is cancelled)."""
        self._closed = True
        await super().close()  # also cancels an init() started on first use
        if not self._started:
            return
        self._started = False
        await self._unsubscribe()

    def _ensure_started(self) -> None:
        # A server started by an ASGI host may never call init(): start on first use.
        if not self._started and not self._starting and not self._closed:
            self._starting = True
            self._spawn(self.init())

    async def _subscribe(self) -> None:
        raise NotImplementedError

    async def _unsubscribe(self) -> None:
        raise NotImplementedError
