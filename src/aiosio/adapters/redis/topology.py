"""Which Redis a URL names: one server, a Redis Cluster, or a primary found by Sentinel;
and how a batch of commands is sent to a cluster.

* ``redis://host:port/db`` (or ``rediss://``): one server.
* ``redis://h1:7000,h2:7001`` (several hosts, or ``cluster=True``): a Redis Cluster, whose
  other nodes are discovered from these seeds; keyed commands (``SPUBLISH``, ``XADD``,
  ``SET``) go to the node that serves their slot.
* ``redis+sentinel://s1:26379,s2:26379/service[/db]`` (or ``rediss+sentinel://``): the
  primary the sentinels name for ``service``; after a failover the next connection asks them
  again, so the adapter follows the new primary.

Redis Cluster refuses ``PUBLISH`` in a pipeline (it has no key to route by). A batch is sent
in order: runs of keyed commands in one cluster pipeline, each ``PUBLISH`` on its own to one
pinned primary (a message published on any node reaches the subscribers of every node, and
one node keeps the order of what it is sent).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.asyncio.sentinel import Sentinel
from redis.exceptions import RedisError

__all__ = [
    "ClusterBatch",
    "close",
    "connect",
    "hosts_of",
    "is_cluster",
    "refresh",
    "run_cluster_batch",
]

SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")


def hosts_of(url: str) -> list[tuple[str, int]]:
    """The ``host:port`` pairs of a URL's network location (``h1:1,h2:2`` gives two).

    Raises:
        ValueError: When a port is not a number.
    """
    location = urlsplit(url).netloc.rpartition("@")[2]
    default = 26379 if urlsplit(url).scheme in SENTINEL_SCHEMES else 6379
    pairs = []
    for part in location.split(","):
        part = part.strip()
        if part.startswith("["):  # [IPv6]:port
            host, _, rest = part[1:].partition("]")
            port = rest.removeprefix(":")
        else:
            host, _, port = part.partition(":")
        pairs.append((host or "127.0.0.1", int(port) if port else default))
    return pairs


def is_cluster(client: Any) -> bool:
    """Whether ``client`` talks to a Redis Cluster."""
    return isinstance(client, RedisCluster)


def connect(url: str, *, cluster: bool = False, **options: Any) -> Any:
    """A ``redis.asyncio`` client for ``url`` that returns bytes: a ``Redis`` or, for
    several hosts or ``cluster=True``, a ``RedisCluster`` (see the module's docstring).
    ``options`` go to the client (``socket_timeout``, ...).

    Raises:
        ValueError: For a Sentinel URL that names no service.
    """
    options = {
        "decode_responses": False,
        "socket_keepalive": True,
        "health_check_interval": 10,
        **options,
    }
    parts = urlsplit(url)
    credentials: dict[str, Any] = {}
    if parts.username:
        credentials["username"] = unquote(parts.username)
    if parts.password:
        credentials["password"] = unquote(parts.password)
    if parts.scheme in SENTINEL_SCHEMES:
        path = [p for p in parts.path.split("/") if p]
        if not path:
            raise ValueError("a Sentinel URL names its service: redis+sentinel://host:port/name")
        sentinel = Sentinel(
            hosts_of(url),
            sentinel_kwargs={"socket_timeout": options.get("socket_timeout", 5.0)},
            ssl=parts.scheme.startswith("rediss"),
            **credentials,
        )
        db = int(path[1]) if len(path) > 1 else 0
        client = sentinel.master_for(path[0], db=db, **options)
        client.aiosio_sentinel = sentinel  # closed with it (see close)
        return client
    hosts = hosts_of(url)
    if cluster or len(hosts) > 1:
        options.pop("health_check_interval")
        nodes = [ClusterNode(host, port) for host, port in hosts]
        ssl = parts.scheme == "rediss"
        return RedisCluster(startup_nodes=nodes, ssl=ssl, **credentials, **options)
    return aioredis.Redis.from_url(url, **options)


async def close(client: Any) -> None:
    """Close a client of :func:`connect` (and the connections to its sentinels)."""
    await client.aclose()
    for connection in getattr(getattr(client, "aiosio_sentinel", None), "sentinels", ()):
        await connection.aclose()


async def refresh(client: Any) -> None:
    """After a failure, have a cluster client read the cluster's slots again (a node that
    died is otherwise tried until its slots are asked for elsewhere); nothing for others."""
    if is_cluster(client):
        with contextlib.suppress(RedisError, OSError):
            await client.nodes_manager.initialize()


class ClusterBatch:
    """Stands in for a pipeline: records the commands ``fill`` queues, for
    :func:`run_cluster_batch`."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Callable[..., None]:
        def record(*args: Any, **kwargs: Any) -> None:
            self.calls.append((name, args, kwargs))

        return record


async def run_cluster_batch(
    client: RedisCluster, batch: ClusterBatch, *, raise_on_error: bool = True
) -> list[Any]:
    """Run the recorded commands in order (see the module's docstring); their results.

    Raises:
        RedisError, OSError: The first failure (unless ``raise_on_error`` is False, when
            failures of keyed commands are returned in place of their results).
    """
    results: list[Any] = []
    pipe: Any = None
    for name, args, kwargs in batch.calls:
        if name == "publish":
            if pipe is not None:
                results.extend(await pipe.execute(raise_on_error=raise_on_error))
                pipe = None
            primary = client.get_primaries()[0]
            results.append(await client.publish(*args, target_nodes=primary, **kwargs))
            continue
        if pipe is None:
            pipe = client.pipeline()
        getattr(pipe, name)(*args, **kwargs)
    if pipe is not None:
        results.extend(await pipe.execute(raise_on_error=raise_on_error))
    return results
