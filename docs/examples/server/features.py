"""The server guide's example: namespaces, rooms, acknowledgements, middlewares, catch-alls."""

import re
from collections.abc import Callable
from typing import Any

import aiosio

io = aiosio.Server()

# -- the main namespace "/" ------------------------------------------------------------


@io.on("connection")
def on_connection(socket: aiosio.Socket) -> None:
    socket.join("lobby")

    # --8<-- [start:acks]
    # A return value answers the client's acknowledgement; a tuple sends several arguments.
    @socket.on("add")
    def add(a: int, b: int) -> int:
        return a + b

    @socket.on("divmod")
    def div_mod(a: int, b: int) -> tuple[int, int]:
        return divmod(a, b)

    # A keyword-only parameter named `ack` gets the callable instead, to answer later
    # (or not at all).
    @socket.on("slow-add")
    async def slow_add(a: int, b: int, *, ack: Callable[..., None]) -> None:
        ack(a + b)

    # Asking the client: its acknowledgement is the result.
    @socket.on("poll-me")
    async def poll_me() -> Any:
        return await socket.timeout(5).emit_with_ack("question", "ready?")

    # --8<-- [end:acks]

    # --8<-- [start:shout]
    # Rooms and broadcast operators (each call returns a new operator).
    @socket.on("shout")
    def shout(room: str, text: str) -> None:
        socket.to(room).emit("shout", text)  # the room, without the sender
        io.to(room).except_("muted").emit("shout", text)  # from the server: with it
        socket.broadcast.emit("heard", room)  # everyone but the sender
        io.volatile.emit("tick")  # may be dropped for a slow client
        io.local.compress(False).emit("local-only")  # this server, uncompressed

    # --8<-- [end:shout]

    # A catch-all listener sees every event, after the named handlers.
    @socket.on_any
    def log_any(event: str, *args: Any) -> None:
        socket.data.setdefault("seen", []).append(event)


# -- a namespace with a middleware ------------------------------------------------------

admin = io.of("/admin")


@admin.use
def only_with_token(socket: aiosio.Socket) -> None:
    if socket.handshake.auth.get("token") != "let-me-in":
        # The client's connect_error gets the message and the data.
        raise aiosio.ConnectionRefused("not authorized", {"hint": "send auth.token"})


@admin.on("connection")
def on_admin(socket: aiosio.Socket) -> None:
    @socket.on("census")
    async def census() -> dict[str, Any]:
        # Ask every socket of the main namespace; per_socket maps socket ids to answers.
        answers = await io.timeout(2).emit_with_ack("whoami", per_socket=True)
        sockets = await io.fetch_sockets()
        return {"sockets": len(sockets), "answered": len(answers)}


# -- dynamic namespaces: one per team, created when a client asks for it ----------------

teams = io.of(re.compile(r"/team-\w+"))


@teams.on("connection")
def on_team(socket: aiosio.Socket) -> None:
    # socket.nsp is the child namespace ("/team-blue"); broadcast to its members only.
    socket.nsp.emit("member", socket.id)


if __name__ == "__main__":
    io.run(port=3000)
