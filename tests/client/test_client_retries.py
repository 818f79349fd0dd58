"""``retries`` and ``ack_timeout``: at-least-once delivery as in socket.io-client 4.6+.

Emits go through a queue, one in flight; an emit whose acknowledgement does not come within
``ack_timeout`` is sent again (with a new ack id, as the reference client does) until
acknowledged or ``retries`` is exhausted. The server's "drop-ack-once" handler does not
acknowledge the first delivery of a key.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import aiosio
from aiosio.client import Client
from aiosio.exceptions import AckTimeout
from tests.client.client_support import RunningServer

_keys = itertools.count()


def new_key() -> str:
    return f"key-{next(_keys)}"


async def test_a_lost_ack_is_retried_and_answered_once(server: RunningServer) -> None:
    client = await aiosio.connect(server.url, force_new=True, retries=3, ack_timeout=0.3)
    sent: list[tuple[Any, ...]] = []
    client.on_any_outgoing(lambda *packet: sent.append(packet))
    answers: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    key = new_key()
    client.emit("drop-ack-once", key, callback=lambda *args: answers.put_nowait(args))
    assert await answers.get() == (None, 2)  # error-first; acked at the second delivery
    assert sent == [("drop-ack-once", key), ("drop-ack-once", key)]
    deliveries = await client.emit_with_ack("deliveries")
    assert deliveries[key] == 2
    assert answers.empty()  # the callback ran exactly once

    key = new_key()
    assert await client.emit_with_ack("drop-ack-once", key) == 2
    await client.disconnect()


async def test_one_packet_in_flight_and_order_kept(server: RunningServer) -> None:
    client = await aiosio.connect(server.url, force_new=True, retries=1, ack_timeout=5.0)
    sent: list[Any] = []
    client.on_any_outgoing(lambda event, value: sent.append(value))
    results: list[tuple[Any, int]] = []
    done = asyncio.Event()

    def answered(error: Any, value: int) -> None:
        results.append((error, value))
        assert len(sent) == value  # the next one leaves only after this ack
        if value == 3:
            done.set()

    for value in (1, 2, 3):
        client.emit("echo", value, callback=answered)
    assert sent == [1]
    await done.wait()
    assert results == [(None, 1), (None, 2), (None, 3)]
    await client.disconnect()


async def test_retries_run_out(server: RunningServer) -> None:
    client = await aiosio.connect(server.url, force_new=True, retries=2, ack_timeout=0.1)
    sent: list[tuple[Any, ...]] = []
    client.on_any_outgoing(lambda *packet: sent.append(packet))
    errors: asyncio.Queue[Any] = asyncio.Queue()
    client.emit("nobody-acks-this", callback=errors.put_nowait)
    assert isinstance(await errors.get(), AckTimeout)
    assert sent == [("nobody-acks-this",)] * 3  # the first try and two retries
    assert await client.emit_with_ack("echo", "next") == "next"  # the queue moved on
    await client.disconnect()


async def test_queued_before_connecting_then_delivered(server: RunningServer) -> None:
    client = Client(server.url, force_new=True, retries=3, ack_timeout=0.3)
    answers: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    key = new_key()
    client.emit("drop-ack-once", key, callback=lambda *args: answers.put_nowait(args))
    client.volatile.emit("echo", "volatile skips the queue and is dropped")
    await client.connect()
    assert await answers.get() == (None, 2)
    await client.disconnect()


async def test_in_flight_packet_is_sent_again_after_reconnection(server: RunningServer) -> None:
    client = await aiosio.connect(
        server.url,
        force_new=True,
        retries=5,
        ack_timeout=30.0,  # longer than the test: only the reconnection can resend
        reconnection_delay=0.05,
        randomization_factor=0.0,
    )
    observer = await aiosio.connect(server.url, force_new=True)
    answers: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    key = new_key()
    client.emit("drop-ack-once", key, callback=lambda *args: answers.put_nowait(args))
    async with asyncio.timeout(10):  # until the server has the first try (ack dropped)
        while (await observer.emit_with_ack("deliveries")).get(key) != 1:
            pass
    engine = client.io.engine
    assert engine is not None
    engine.abort()  # the connection drops: the manager hears of it as from the engine
    client.io.on_close("transport close", None)
    assert await answers.get() == (None, 2)  # sent again once reconnected, then acked
    await client.disconnect()
    await observer.disconnect()
