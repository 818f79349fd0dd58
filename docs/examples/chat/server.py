"""The tutorial's chat: rooms, acknowledgements, and a page for browsers.

Run it with ``python server.py`` (or ``aiosio serve server:io``) and open
http://127.0.0.1:3000 in two browser tabs.
"""

from pathlib import Path

import aiosio

STATIC = Path(__file__).parent / "static"

# The server answers Socket.IO under /socket.io/, serves the official browser client at
# /socket.io/socket.io.js, and the files of STATIC at /.
io = aiosio.Server(static_files={"/": str(STATIC)})


@io.on("connection")
def on_connection(socket: aiosio.Socket) -> None:
    # What the client sent as `auth` when it connected.
    name = str(socket.handshake.auth.get("name") or "anonymous")
    socket.data["name"] = name
    socket.join("lobby")
    socket.to("lobby").emit("joined", name)

    @socket.on("join")
    def join(room: str) -> list[str]:
        socket.join(room)
        return sorted(socket.rooms - {socket.id})  # the answer goes back to the sender

    @socket.on("chat")
    def chat(room: str, text: str) -> str:
        message = {"from": name, "room": room, "text": text}
        socket.to(room).emit("chat", message)  # everyone in the room but the sender
        return "delivered"

    @socket.on("disconnect")
    def gone(reason: str) -> None:
        io.to("lobby").emit("left", name)


if __name__ == "__main__":
    io.run(port=3000)
