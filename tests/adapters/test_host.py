"""aiosio.adapters.host: the server's namespaces and sockets are what adapters expect.

mypy checks it where the server hands itself to its adapter; this checks it at run time
too, for adapters written outside this repository: a real namespace, socket (connected
in memory), remote socket and cluster requester have every member of their protocol, and a
namespace's adapter is given that namespace as its host.
"""

from __future__ import annotations

import asyncio

import aiosio
import aiosio.testing
from aiosio.adapters.cluster_requests import Requester
from aiosio.adapters.host import AckCollector, Host, LocalSocket, SocketLike
from tests.support.waits import within


def missing(protocol: type, implementation: object) -> set[str]:
    """The members of ``protocol`` (and of the protocols it extends) that
    ``implementation`` lacks."""
    names: set[str] = set()
    for cls in protocol.__mro__:
        if getattr(cls, "_is_protocol", False):
            names |= {name for name in vars(cls) if not name.startswith("_")}
    assert names, protocol
    return {name for name in names if not hasattr(implementation, name)}


async def test_the_server_provides_every_member_adapters_use() -> None:
    io = aiosio.Server()
    news = io.of("/news")
    sockets: asyncio.Queue[aiosio.Socket] = asyncio.Queue()
    news.on("connection", sockets.put_nowait)
    async with aiosio.testing.serve(io) as served:
        await within(served.connect("/news"))
        socket = await within(sockets.get())
        remote = news.remote_socket({"id": "elsewhere", "rooms": ["elsewhere"]})
        assert missing(Host, news) == set()
        assert missing(LocalSocket, socket) == set()
        assert missing(SocketLike, remote) == set()
        assert missing(AckCollector, Requester) == set()  # its members are all methods
        assert missing(SocketLike, object()) == {"id", "rooms", "data", "join", "disconnect"}


def test_a_namespace_is_the_host_of_its_adapter() -> None:
    io = aiosio.Server()
    news = io.of("/news")
    assert news.adapter.namespace is news
