"""The same client without asyncio: SyncSimpleClient runs it on a background thread."""

import aiosio

URL = "http://127.0.0.1:3000"


def main() -> None:
    with aiosio.SyncSimpleClient() as client:
        client.connect(URL)
        print(client.call("add", 2, 3, timeout=5))  # 5
        client.emit("shout", "lobby", "hello")
        event, *args = client.receive(timeout=5)  # the next event the server sends
        print(event, args)


if __name__ == "__main__":
    main()
