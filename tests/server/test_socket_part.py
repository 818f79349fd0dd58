"""aiosio.server.socket_part: the base that declares what Socket's mixins use of it.

A real server and a real client connected in memory (aiosio.testing).
"""

from __future__ import annotations

import aiosio
from aiosio.server.disconnecting import SocketDisconnection
from aiosio.server.middlewares import PacketMiddlewares
from aiosio.server.rooms import SocketRooms
from aiosio.server.socket_part import SocketPart
from tests.support.sockets import pair


def test_the_mixins_of_socket_share_the_base() -> None:
    for mixin in (SocketRooms, PacketMiddlewares, SocketDisconnection):
        assert issubclass(mixin, SocketPart)
    assert issubclass(aiosio.Socket, SocketPart)
    assert SocketPart.__slots__ == ()  # it holds nothing: a socket keeps no __dict__


async def test_a_socket_has_every_attribute_the_base_declares() -> None:
    io = aiosio.Server()
    async with pair(io) as (_, socket):
        declared = SocketPart.__annotations__
        assert {"id", "nsp", "conn", "connected"} <= declared.keys()
        missing = [name for name in declared if not hasattr(socket, name)]
        assert missing == []
        assert socket.nsp is io.of("/") and socket.connected
        assert not hasattr(socket, "__dict__")
