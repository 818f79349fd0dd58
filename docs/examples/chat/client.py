"""The tutorial's chat, from Python: join a room, listen, send, wait for the answer."""

import asyncio
from typing import Any

import aiosio

URL = "http://127.0.0.1:3000"


async def chat(name: str, room: str, text: str) -> str:
    socket = await aiosio.connect(URL, auth={"name": name})
    try:

        @socket.on("chat")
        def on_chat(message: dict[str, Any]) -> None:
            print(f"{message['from']} in #{message['room']}: {message['text']}")

        rooms = await socket.emit_with_ack("join", room, timeout=5)
        print("my rooms:", rooms)
        answer: str = await socket.emit_with_ack("chat", room, text, timeout=5)
        return answer
    finally:
        await socket.disconnect()


if __name__ == "__main__":
    print(asyncio.run(chat("ada", "python", "hello from Python")))
