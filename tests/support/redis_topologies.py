"""Redis Cluster and Sentinel set-ups of the machine's ``redis-server``, and one server of
another binary (Valkey's), on private ports and in a temporary folder, for the cluster
tests (started once per module by the fixtures of tests/adapters/redis/conftest.py).

Each process is ours and never daemonized: :meth:`Topology.stop` kills them all (by their
own pids) and removes the folder.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.ports import free_port


def _ask(port: int, *command: str, timeout: float = 5.0) -> str:
    """One ``redis-cli`` command's output ('' when the server does not answer)."""
    try:
        done = subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "-p", str(port), *command],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return ""
    return done.stdout.strip()


def _answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5) as s:
        s.sendall(b"PING\r\n")
        return s.recv(16).startswith(b"+PONG")
    return False


def _wait(condition: object, what: str, seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


@dataclass
class Topology:
    """Redis processes on private ports, and their folder."""

    folder: Path
    processes: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    binary: str = "redis-server"

    def start_server(self, port: int, *extra: str) -> None:
        """A server on ``port`` (its files in a folder of its own)."""
        home = self.folder / str(port)
        home.mkdir(exist_ok=True)
        args = [self.binary, "--bind", "127.0.0.1", "--port", str(port), "--save", ""]
        args += ["--appendonly", "no", "--dir", str(home), *extra]
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.processes[port] = process

        def up() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"{self.binary} on {port} exited ({process.returncode})")
            return _answers(port)

        _wait(up, f"{self.binary} on {port}")

    def kill(self, port: int) -> None:
        """SIGKILL one server (a crash: no goodbye to its clients)."""
        process = self.processes.pop(port)
        process.kill()
        process.wait()

    def stop(self) -> None:
        for port in list(self.processes):
            self.kill(port)
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass
class Server(Topology):
    """One server of ``binary`` (a ``redis-server`` or a ``valkey-server``)."""

    port: int = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    @classmethod
    def start(cls, binary: str = "redis-server") -> Server:
        server = cls(Path(tempfile.mkdtemp(prefix="aiosio-redis-")), binary=binary)
        try:
            server.port = free_port()
            server.start_server(server.port)
        except BaseException:
            server.stop()
            raise
        return server


@dataclass
class RedisCluster(Topology):
    """Three primaries, each with one replica."""

    primaries: list[int] = field(default_factory=list)
    replicas: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        """``redis://h:p1,h:p2,h:p3``: the seed nodes, as ``redis_adapter(cluster=True)``
        takes them."""
        return "redis://" + ",".join(f"127.0.0.1:{port}" for port in self.primaries)

    @classmethod
    def start(cls) -> RedisCluster:
        cluster = cls(Path(tempfile.mkdtemp(prefix="aiosio-redis-cluster-")))
        try:
            ports = [free_port() for _ in range(6)]
            for port in ports:
                cluster.start_server(
                    port,
                    *("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"),
                    *("--cluster-port", str(free_port())),  # not port + 10000: past 65535
                    *("--cluster-node-timeout", "1000", "--cluster-replica-validity-factor", "0"),
                )
            cluster.primaries, cluster.replicas = ports[:3], ports[3:]
            subprocess.run(
                ["redis-cli", "--cluster", "create"]
                + [f"127.0.0.1:{port}" for port in ports]
                + ["--cluster-replicas", "1", "--cluster-yes"],
                check=True,
                capture_output=True,
                timeout=60,
            )
            _wait(cluster.ready, "the cluster to be ready", 30)
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def ready(self) -> bool:
        """Every live node says the cluster is ok and knows every live primary."""
        for port in self.processes:
            info = _ask(port, "CLUSTER", "INFO")
            if "cluster_state:ok" not in info:
                return False
        return all(self.replica_of(port) is not None for port in self.replicas)

    def replica_of(self, port: int) -> int | None:
        """The port of the primary a replica follows (None while it has none)."""
        info = _ask(port, "INFO", "replication")
        if "master_link_status:up" not in info:
            return None
        for line in info.splitlines():
            if line.startswith("master_port:"):
                return int(line.split(":")[1])
        return None

    def owner(self, slot: int) -> int:
        """The port of the primary serving ``slot``."""
        for port in self.primaries:
            for line in _ask(port, "CLUSTER", "NODES").splitlines():
                parts = line.split()
                if "myself" not in parts[2] or "master" not in parts[2]:
                    continue
                for span in parts[8:]:
                    low, _, high = span.partition("-")
                    if low.isdigit() and int(low) <= slot <= int(high or low):
                        return port
        raise LookupError(f"no primary serves slot {slot}")

    def node_id(self, port: int) -> str:
        return _ask(port, "CLUSTER", "MYID")

    def move_slot(self, slot: int, target: int) -> None:
        """Migrate ``slot`` (and its keys) to the primary on ``target``."""
        source = self.owner(slot)
        source_id, target_id = self.node_id(source), self.node_id(target)
        _ask(target, "CLUSTER", "SETSLOT", str(slot), "IMPORTING", source_id)
        _ask(source, "CLUSTER", "SETSLOT", str(slot), "MIGRATING", target_id)
        while keys := _ask(source, "CLUSTER", "GETKEYSINSLOT", str(slot), "100").split():
            _ask(source, "MIGRATE", "127.0.0.1", str(target), "", "0", "5000", "KEYS", *keys)
        for port in self.primaries:
            _ask(port, "CLUSTER", "SETSLOT", str(slot), "NODE", target_id)
        _wait(lambda: self.owner(slot) == target, f"slot {slot} to move")

    def fail_over(self, primary: int) -> int:
        """SIGKILL ``primary`` and wait until its replica took over; returns its port."""
        replica = next(port for port in self.replicas if self.replica_of(port) == primary)
        self.kill(primary)
        self.primaries[self.primaries.index(primary)] = replica
        self.replicas.remove(replica)
        _wait(lambda: "role:master" in _ask(replica, "INFO", "replication"), "the failover")
        _wait(lambda: "cluster_state:ok" in _ask(replica, "CLUSTER", "INFO"), "cluster ok")
        return replica


@dataclass
class Sentinels(Topology):
    """A primary, one replica and three sentinels watching them as ``service``."""

    service: str = "aiosio"
    primary: int = 0
    replica: int = 0
    sentinels: list[int] = field(default_factory=list)

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinels)
        return f"redis+sentinel://{hosts}/{self.service}"

    @classmethod
    def start(cls) -> Sentinels:
        topology = cls(Path(tempfile.mkdtemp(prefix="aiosio-redis-sentinel-")))
        try:
            topology.primary, topology.replica = free_port(), free_port()
            topology.start_server(topology.primary)
            topology.start_server(
                topology.replica, "--replicaof", "127.0.0.1", str(topology.primary)
            )
            _wait(lambda: "master_link_status:up" in _ask(topology.replica, "INFO"), "replica")
            for _ in range(3):
                port = free_port()
                config = topology.folder / f"sentinel-{port}.conf"
                config.write_text(
                    f"port {port}\nbind 127.0.0.1\n"
                    f"sentinel monitor {topology.service} 127.0.0.1 {topology.primary} 2\n"
                    f"sentinel down-after-milliseconds {topology.service} 1000\n"
                    f"sentinel failover-timeout {topology.service} 5000\n"
                )
                topology.start_server(port, "--sentinel")  # the config file comes first
                topology.sentinels.append(port)
        except BaseException:
            topology.stop()
            raise
        return topology

    def start_server(self, port: int, *extra: str) -> None:
        if extra == ("--sentinel",):
            config = self.folder / f"sentinel-{port}.conf"
            self.processes[port] = subprocess.Popen(
                ["redis-server", str(config), "--sentinel"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            _wait(lambda: _answers(port), f"sentinel on {port}")
            return
        super().start_server(port, *extra)

    def current_primary(self) -> int | None:
        answer = _ask(self.sentinels[0], "SENTINEL", "get-master-addr-by-name", self.service)
        lines = answer.splitlines()
        return int(lines[1]) if len(lines) == 2 and lines[1].isdigit() else None

    def fail_over(self) -> int:
        """SIGKILL the primary and wait until the sentinels promoted the replica."""
        old = self.primary
        self.kill(old)
        _wait(lambda: self.current_primary() == self.replica, "the sentinel failover", 30)
        self.primary, self.replica = self.replica, old
        return self.primary
