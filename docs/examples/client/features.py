"""The client guide's example: reconnection, buffering, acks, namespaces over one connection."""

import asyncio
from typing import Any

import aiosio

URL = "http://127.0.0.1:3000"


async def main() -> None:
    # Reconnection is on by default, with an exponential backoff between these bounds.
    socket = await aiosio.connect(
        URL,
        reconnection_delay=0.5,
        reconnection_delay_max=5,
        retries=3,  # an unacknowledged emit is sent again, up to 3 times
        ack_timeout=5,  # how long each try waits for the acknowledgement
    )
    # Another namespace of the same server shares the connection (multiplexing).
    admin = await aiosio.connect(URL + "/admin", auth={"token": "let-me-in"})

    @socket.on("connect")
    def connected() -> None:
        print("connected as", socket.id)

    @socket.on("disconnect")
    def disconnected(reason: str) -> None:
        print("disconnected:", reason)  # the client reconnects unless we closed it

    @socket.on("question")
    def question(text: str) -> str:
        return "yes"  # a handler's return value answers the server's acknowledgement

    @socket.on("whoami")
    def whoami() -> str:
        return "a Python client"

    print(await socket.emit_with_ack("add", 2, 3))  # 5
    print(await socket.emit_with_ack("divmod", 7, 2))  # (3, 1): several arguments
    census: dict[str, Any] = await admin.emit_with_ack("census", timeout=5)
    print(census)
    await admin.disconnect()
    await socket.disconnect()


if __name__ == "__main__":
    asyncio.run(main())
