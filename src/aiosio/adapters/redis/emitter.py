"""Emitter: reach the sockets of a Redis cluster from any Python process (not a server).

Compatible with ``@socket.io/redis-emitter`` (and with ``createShardedAdapter`` clusters with
``sharded=True``)::

    async with Emitter("redis://127.0.0.1:6379") as emitter:
        emitter.to("room-1").emit("news", {"id": 1})
        emitter.of("/admin").except_("muted").emit("notice", b"\x00")
        emitter.in_("room-1").sockets_join("room-2")
        emitter.server_side_emit("reload")          # to the servers' namespace handlers

Operations queue and never await; they are published in order by one task, and
:meth:`Emitter.flush` (or leaving the ``async with`` block) waits until Redis has them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any, Self

from aiosio._shortcuts import Shortcuts
from aiosio.adapters.base import BroadcastFlags, BroadcastOptions
from aiosio.adapters.cluster import ClusterMessage, MessageType, encode_options, encode_packet
from aiosio.adapters.codec import encode_message
from aiosio.adapters.redis.link import RedisError, connect, publish_all, run_pipeline
from aiosio.adapters.redis.wire import ClassicChannels, encode_classic
from aiosio.socketio.packets import EVENT, RESERVED_EVENTS, Packet

__all__ = ["Emitter", "EmitterOperator"]

logger = logging.getLogger("aiosio.emitter")

EMITTER_UID = "emitter"  # the uid the Node emitter sends, which servers never answer


class _Publisher:
    """One Redis client and an ordered queue of ``(channel, payload, sharded)``."""

    def __init__(self, url: str) -> None:
        self.client = connect(url)
        self.queue: asyncio.Queue[tuple[str, bytes, bool]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    def send(self, channel: str, payload: bytes, sharded: bool) -> None:
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._run())
        self.queue.put_nowait((channel, payload, sharded))

    async def _run(self) -> None:
        while True:
            batch = [await self.queue.get()]
            while not self.queue.empty():
                batch.append(self.queue.get_nowait())
            try:  # once more on a fresh connection after a Redis restart
                await run_pipeline(self.client, functools.partial(publish_all, batch=batch))
            except (RedisError, OSError) as exc:
                logger.warning("dropped %d messages to Redis: %s", len(batch), exc)
            finally:
                for _ in batch:
                    self.queue.task_done()

    async def close(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
        await self.client.aclose()


def _names(rooms: tuple[str | Iterable[str], ...]) -> frozenset[str]:
    names: set[str] = set()
    for room in rooms:
        names.update([room] if isinstance(room, str) else room)
    return frozenset(names)


@dataclass(frozen=True, slots=True)
class EmitterOperator:
    """Who an emitter operation reaches; every method returns a new operator."""

    emitter: Emitter
    options: BroadcastOptions = field(default_factory=BroadcastOptions)

    def to(self, *rooms: str | Iterable[str]) -> EmitterOperator:
        """Address rooms (added to those already chosen).

        Args:
            *rooms: Room names, or iterables of them.

        Returns:
            A new operator.
        """
        return replace(
            self, options=replace(self.options, rooms=self.options.rooms | _names(rooms))
        )

    in_ = to

    def except_(self, *rooms: str | Iterable[str]) -> EmitterOperator:
        """Leave out the sockets of rooms.

        Args:
            *rooms: Room names, or iterables of them.

        Returns:
            A new operator.
        """
        excluded = self.options.except_ | _names(rooms)
        return replace(self, options=replace(self.options, except_=excluded))

    @property
    def volatile(self) -> EmitterOperator:
        """Let the servers drop the event for a socket that cannot take it now."""
        flags = replace(self.options.flags, volatile=True)
        return replace(self, options=replace(self.options, flags=flags))

    def compress(self, compress: bool = True) -> EmitterOperator:
        """Set whether the servers may compress the event.

        Args:
            compress: False sends it uncompressed.

        Returns:
            A new operator.
        """
        flags = replace(self.options.flags, compress=compress)
        return replace(self, options=replace(self.options, flags=flags))

    def emit(self, event: str, *args: Any) -> None:
        """Send an event to the chosen sockets of every server."""
        if event in RESERVED_EVENTS:
            raise ValueError(f"{event!r} is a reserved event name")
        packet = Packet(EVENT, self.emitter.namespace, [event, *args])
        data = {"packet": encode_packet(packet), "opts": encode_options(self.options)}
        self.emitter.send(MessageType.BROADCAST, data)

    def sockets_join(self, rooms: str | Iterable[str]) -> None:
        """Make the chosen sockets join rooms."""
        data = {"opts": encode_options(self.options), "rooms": sorted(_names((rooms,)))}
        self.emitter.send(MessageType.SOCKETS_JOIN, data)

    def sockets_leave(self, rooms: str | Iterable[str]) -> None:
        """Make the chosen sockets leave rooms."""
        data = {"opts": encode_options(self.options), "rooms": sorted(_names((rooms,)))}
        self.emitter.send(MessageType.SOCKETS_LEAVE, data)

    def disconnect_sockets(self, close: bool = False) -> None:
        """Disconnect the chosen sockets (with ``close``, their whole connections)."""
        data = {"opts": encode_options(self.options), "close": close}
        self.emitter.send(MessageType.DISCONNECT_SOCKETS, data)


class Emitter(Shortcuts[EmitterOperator]):
    """Publishes to the sockets of a cluster of servers sharing a Redis."""

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379",
        *,
        key: str = "socket.io",
        namespace: str = "/",
        sharded: bool = False,
        _publisher: _Publisher | None = None,
    ) -> None:
        self.url = url
        self.key = key
        self.namespace = namespace if namespace.startswith("/") else "/" + namespace
        self.sharded = sharded
        self._publisher = _publisher or _Publisher(url)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if error is None:
            await self.flush()
        await self.close()

    def of(self, namespace: str) -> Emitter:
        """The same emitter for another namespace."""
        return Emitter(
            self.url,
            key=self.key,
            namespace=namespace,
            sharded=self.sharded,
            _publisher=self._publisher,
        )

    def _operator(self) -> EmitterOperator:
        return EmitterOperator(self, BroadcastOptions(flags=BroadcastFlags()))

    def emit(self, event: str, *args: Any) -> None:
        """Publish an event to every socket of the emitter's namespace.

        Args:
            event: The event name.
            *args: The arguments of the event.
        """
        self._operator().emit(event, *args)

    def server_side_emit(self, event: str, *args: Any) -> None:
        """Emit to the namespace handlers of every server (acknowledgements are not
        supported, as in the Node emitter)."""
        self.send(MessageType.SERVER_SIDE_EMIT, {"packet": [event, *args]})

    def send(self, type: MessageType, data: dict[str, Any]) -> None:
        """Queue one cluster message in this emitter's format."""
        message = ClusterMessage(type, EMITTER_UID, self.namespace, data)
        if not self.sharded:
            channel, payload = encode_classic(message, ClassicChannels(self.key, self.namespace))
            self._publisher.send(channel, payload, False)
            return
        channel = f"{self.key}#{self.namespace}#"
        rooms = data.get("opts", {}).get("rooms", [])
        if type is MessageType.BROADCAST and len(rooms) == 1 and len(rooms[0]) != 20:
            channel += f"{rooms[0]}#"  # the per-room channel of the "dynamic" mode
        self._publisher.send(channel, encode_message(message), True)

    async def flush(self) -> None:
        """Wait until everything queued so far reached Redis."""
        await self._publisher.queue.join()

    async def close(self) -> None:
        """Close the emitter's Redis connection."""
        await self._publisher.close()
