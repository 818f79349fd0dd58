"""Client managers: python-socketio's ``AsyncManager`` and ``AsyncRedisManager``.

``AsyncServer(client_manager=AsyncRedisManager(url))`` runs the server on the native
Redis adapter (:func:`aiosio.adapters.redis.redis_adapter`), whose messages are those of
the Node ``@socket.io/redis-adapter``: Python and Node servers share a cluster, but a
process using python-socketio's own Redis manager (its format is its own) cannot join
it. A ``write_only`` manager emits from a process that is not a server, through the
native :class:`~aiosio.adapters.redis.Emitter`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["AsyncManager", "AsyncRedisManager"]


class AsyncManager:
    """The default manager: one server, rooms in memory (the native memory adapter)."""

    def adapter_factory(self) -> Any:
        """The native ``adapter`` option.

        Returns:
            None: the default adapter, in memory.
        """
        return None


class AsyncRedisManager(AsyncManager):
    """A cluster over Redis: every server of it uses the same ``url`` and ``channel``.

    Args:
        url: The Redis server (the URL carries the database and credentials).
        channel: The channel prefix, shared by the cluster.
        write_only: This process only emits (a worker, not a server): see :meth:`emit`.
        logger: Accepted; aiosio logs through ``logging``.
        redis_options: Not supported: put the options in ``url``.

    Raises:
        ValueError: ``redis_options`` is given.
    """

    def __init__(
        self,
        url: str = "redis://localhost:6379/0",
        channel: str = "socketio",
        write_only: bool = False,
        logger: Any = None,
        redis_options: dict[str, Any] | None = None,
    ) -> None:
        if redis_options:
            raise ValueError("redis_options is not supported: put them in the URL")
        self.url = url
        self.channel = channel
        self.write_only = write_only
        self._emitter: Any = None

    def adapter_factory(self) -> Any:
        """The native ``adapter`` option: a Redis adapter on ``url`` and ``channel``.

        Returns:
            The adapter factory for :class:`aiosio.Server`.

        Raises:
            ValueError: The manager is ``write_only`` (it emits from outside a server).
        """
        if self.write_only:
            raise ValueError("a write_only manager emits from outside a server; it is not one")
        from aiosio.adapters.redis import redis_adapter

        factory: Any = redis_adapter(self.url, key=self.channel)
        return factory

    def _emitter_for(self, namespace: str | None) -> Any:
        if self._emitter is None:
            from aiosio.adapters.redis import Emitter

            self._emitter = Emitter(self.url, key=self.channel)
        return self._emitter.of(namespace or "/")

    async def emit(
        self,
        event: str,
        data: Any = None,
        namespace: str | None = None,
        room: str | Iterable[str] | None = None,
        to: str | Iterable[str] | None = None,
        skip_sid: str | Iterable[str] | None = None,
        callback: Any = None,
        **kwargs: Any,
    ) -> None:
        """Emit to the cluster's clients from this process (``write_only``); no acks.

        Args:
            event: The event name.
            data: The event's one argument, a tuple of several, or None for none.
            namespace: The namespace; None means ``/``.
            room: A room or several (python-socketio's older name for ``to``).
            to: A sid or room, or several; None reaches every client.
            skip_sid: A sid or room, or several, left out.
            callback: Must be None: acknowledgements cannot come back to an emitter.
            **kwargs: Accepted and not used.

        Raises:
            ValueError: With ``callback``: acks cannot come back to an emitter.
        """
        if callback is not None:
            raise ValueError("an emitter cannot receive acknowledgements")
        args = () if data is None else data if type(data) is tuple else (data,)
        target = to if to is not None else room
        emitter = self._emitter_for(namespace)
        operator = emitter.to(target) if target is not None else emitter._operator()
        if skip_sid is not None:
            operator = operator.except_(skip_sid)
        operator.emit(event, *args)
        await emitter.flush()

    async def close(self) -> None:
        """Close the emitter's Redis connection."""
        if self._emitter is not None:
            await self._emitter.close()
            self._emitter = None
