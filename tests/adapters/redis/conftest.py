"""A Redis Cluster (three primaries, three replicas) and a Sentinel set-up (a primary, a
replica, three sentinels) of the machine's redis-server, on private ports: each started
once per module that asks, and stopped (processes and folder) after it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest

from tests.support.redis_topologies import RedisCluster, Sentinels


def _need_redis_server() -> None:
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        pytest.skip("redis-server and redis-cli are needed")


@pytest.fixture(scope="module")
def redis_cluster() -> Iterator[RedisCluster]:
    _need_redis_server()
    cluster = RedisCluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def sentinels() -> Iterator[Sentinels]:
    _need_redis_server()
    topology = Sentinels.start()
    yield topology
    topology.stop()
