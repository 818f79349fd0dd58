"""Connection state recovery, the msgpack parser and compression, on one server."""

import aiosio

io = aiosio.Server(
    # A client that comes back within two minutes gets its id, rooms and data back, and
    # the broadcasts it missed meanwhile.
    connection_state_recovery={"max_disconnection_duration": 120},
    # socket.io-msgpack-parser on the wire (the clients must use it too).
    parser="msgpack",
    # permessage-deflate on WebSockets; a broadcast is compressed once for all.
    per_message_deflate=True,
    # gzip or deflate on long-polling answers (on by default).
    http_compression=True,
)


@io.on("connection")
def on_connection(socket: aiosio.Socket) -> None:
    if socket.recovered:
        return  # rooms and data are back already: nothing to set up again
    socket.join("news")
    socket.data["joined"] = True


if __name__ == "__main__":
    io.run(port=3000)
