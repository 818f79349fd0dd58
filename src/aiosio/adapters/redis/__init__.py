"""Redis: the cluster adapters and the emitter, wire-compatible with the Node packages.

* :func:`redis_adapter` (:mod:`.pubsub`): ``@socket.io/redis-adapter``, classic or sharded.
* :func:`streams_adapter` (:mod:`.streams`): ``@socket.io/redis-streams-adapter``, with
  connection state recovery across the cluster.
* :class:`Emitter` (:mod:`.emitter`): ``@socket.io/redis-emitter``, for other processes.

The only package of aiosio that imports ``redis`` (needs the ``redis`` extra).
"""

from aiosio.adapters.redis.emitter import Emitter, EmitterOperator
from aiosio.adapters.redis.link import (
    LinkSettings,
    RedisError,
    RedisLink,
    connect,
    publish_all,
    run_pipeline,
)
from aiosio.adapters.redis.pubsub import RedisAdapter, RedisAdapterFactory, redis_adapter
from aiosio.adapters.redis.streams import StreamsAdapter, StreamsAdapterFactory, streams_adapter

__all__ = [
    "Emitter",
    "EmitterOperator",
    "LinkSettings",
    "RedisAdapter",
    "RedisAdapterFactory",
    "RedisError",
    "RedisLink",
    "StreamsAdapter",
    "StreamsAdapterFactory",
    "connect",
    "publish_all",
    "redis_adapter",
    "run_pipeline",
    "streams_adapter",
]
