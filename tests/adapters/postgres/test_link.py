"""The Postgres link against a real PostgreSQL: the format, the attachments table, the
order of a batch, and what NOTIFY would fold."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import orjson
import pytest

from aiosio.adapters.codec import unpack
from aiosio.adapters.messages import ClusterMessage, MessageType
from aiosio.adapters.postgres.link import (
    PostgresLink,
    PostgresSettings,
    delete_old,
    encode_notification,
    send_all,
)
from aiosio.exceptions import ClusterError
from tests.adapters.cluster_support import eventually_async
from tests.support.waits import Watch, within


def broadcast(*args: Any, uid: str = "u1") -> ClusterMessage:
    packet = {"type": 2, "data": ["news", *args], "nsp": "/"}
    data = {"packet": packet, "opts": {"rooms": [], "except": [], "flags": {}}}
    return ClusterMessage(MessageType.BROADCAST, uid, "/", data)


def test_json_unless_binary_or_large() -> None:
    assert encode_notification(broadcast("hi"), 8000) == (
        b'{"uid":"u1","nsp":"/","type":3,"data":{"packet":{"type":2,"data":["news","hi"],'
        b'"nsp":"/"},"opts":{"rooms":[],"except":[],"flags":{}}}}'
    )
    assert encode_notification(broadcast(b"\x00"), 8000) is None
    assert encode_notification(broadcast("x" * 8000), 8000) is None
    # Other types carry bytes as Buffer JSON, as Node's adapter sends them.
    response = ClusterMessage(
        MessageType.FETCH_SOCKETS_RESPONSE, "u1", "/", {"requestId": "r", "sockets": [b"\x01"]}
    )
    payload = encode_notification(response, 8000)
    assert payload is not None and b'{"type":"Buffer","data":[1]}' in payload


@pytest.mark.parametrize(
    "options",
    [{"table_name": "t; DROP TABLE x"}, {"table_name": "1abc"}, {"payload_threshold": 9000}],
)
def test_settings_refuse_what_would_break_sql_or_notify(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        PostgresSettings("postgresql://x", **options)


class Listener:
    """A plain asyncpg connection LISTENing on one channel."""

    def __init__(self, connection: Any, channel: str) -> None:
        self.connection = connection
        self.channel = channel
        self.got: list[str] = []
        self.watch = Watch()

    @classmethod
    async def start(cls, dsn: str, channel: str) -> Listener:
        listener = cls(await asyncpg.connect(dsn), channel)
        await listener.connection.add_listener(channel, listener._on)
        return listener

    def _on(self, _connection: Any, _pid: int, _channel: str, payload: str) -> None:
        self.got.append(payload)
        self.watch.poke()


async def test_a_batch_arrives_in_order_with_its_repeats_and_attachments(pg_dsn: str) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    settings = PostgresSettings(pg_dsn, channel_prefix=prefix, table_name=f"{prefix}_att")
    writer = await asyncpg.connect(pg_dsn)
    listener = await Listener.start(pg_dsn, settings.channel("/"))
    try:
        await writer.execute(
            f"CREATE TABLE {settings.table_name} (id bigserial UNIQUE, "
            "created_at timestamptz DEFAULT NOW(), payload bytea)"
        )
        channel = settings.channel("/")
        same = broadcast("same")
        batch = [(channel, same), (channel, same), (channel, broadcast(b"\x01")), (channel, same)]
        await send_all(writer, batch, settings)
        await listener.watch.until(lambda: len(listener.got) == 4)
        values = [orjson.loads(text) for text in listener.got]
        assert (
            values[0]
            == values[1]
            == values[3]
            == orjson.loads(encode_notification(same, 8000) or b"")
        )
        header = values[2]
        assert header.keys() == {"uid", "type", "attachmentId"} and header["type"] == 3
        row = await writer.fetchval(
            f"SELECT payload FROM {settings.table_name} WHERE id = $1", int(header["attachmentId"])
        )
        assert unpack(row)["data"]["packet"]["data"] == ["news", b"\x01"]
        # cleanup: a row older than the interval goes, a fresh one stays
        await writer.execute(
            f"UPDATE {settings.table_name} SET created_at = now() - interval '1 hour'"
        )
        await send_all(writer, [(channel, broadcast(b"\x02"))], settings)
        await delete_old(writer, settings)
        assert await writer.fetchval(f"SELECT count(*) FROM {settings.table_name}") == 1
    finally:
        await listener.connection.close()
        await writer.close()


async def test_the_link_creates_its_table_and_hands_attachments_over(pg_dsn: str) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    settings = PostgresSettings(
        pg_dsn, channel_prefix=prefix, table_name=f"{prefix}_att", max_message_size=1000
    )
    link = PostgresLink(settings)
    got: list[Any] = []
    watch = Watch()
    link.acquire()
    try:
        await link.listen("/", lambda channel, payload: got.append(payload) or watch.poke())
        assert await link.wait_ready(5)
        writer = await asyncpg.connect(pg_dsn)
        channel = settings.channel("/")
        big = broadcast(b"y" * 2000)  # an attachment over max_message_size: dropped unread
        small = broadcast(b"\x07", uid="other")
        await send_all(
            writer, [(channel, big), (channel, small), (channel, broadcast("z"))], settings
        )
        await writer.close()
        await watch.until(lambda: len(got) == 2)
        assert isinstance(got[0], dict) and unpack(got[0]["payload"])["uid"] == "other"
        assert orjson.loads(got[1])["data"]["packet"]["data"] == ["news", "z"]
        # what this server's own adapters attached is not read back
        link.uids.add("mine")
        link.publish(broadcast(b"\x08", uid="mine"))
        link.publish(broadcast("after", uid="mine"))
        await watch.until(lambda: len(got) == 3)
        assert orjson.loads(got[2])["data"]["packet"]["data"] == ["news", "after"]
        with pytest.raises(ClusterError, match="longer than 63 bytes"):
            await link.listen("/" + "n" * 80, lambda channel, payload: None)
    finally:
        await link.release()
    assert not link.healthy
    with pytest.raises(ClusterError, match="unreachable"):
        link.publish(broadcast("closed"))


async def test_a_full_outbox_refuses_more(pg_dsn: str) -> None:
    link = PostgresLink(PostgresSettings(pg_dsn, max_outbox=2, table_name="t_outbox"))
    link.acquire()
    try:
        assert await link.wait_ready(5)
        await link._writer_lock.acquire()  # the writer is busy: nothing leaves the outbox
        try:
            link.publish(broadcast(1))
            await asyncio.sleep(0)  # the writer task takes the first into its batch
            link.publish(broadcast(2))
            link.publish(broadcast(3))
            with pytest.raises(ClusterError, match="too many"):
                link.publish(broadcast(4))
        finally:
            link._writer_lock.release()
        await within(link.flush(), 5)
    finally:
        await link.release()


async def test_a_close_ends_a_task_that_lost_its_cancel(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The close cancels the link's tasks again until they end, and leaves no connection.

    On Python 3.11 a cancel can be lost: ``asyncio.wait_for`` returns what it waited for
    when that finishes in the loop iteration the cancel comes (CPython issue 86296), and
    the task goes on. Here the listening task's connect loses the close's cancel that
    way (the real connection is made and returned): with one cancel, the task went on to
    LISTEN and wait forever, and the close waited for it forever.
    """
    name = f"aiosio-{uuid.uuid4().hex[:8]}"
    real_connect = asyncpg.connect
    connecting, lost = asyncio.Event(), asyncio.Event()

    async def connect_losing_a_cancel(*args: Any, **kwargs: Any) -> Any:
        attempt = asyncio.ensure_future(real_connect(*args, **kwargs))
        connecting.set()
        try:
            return await asyncio.shield(attempt)
        except asyncio.CancelledError:
            lost.set()
            return await attempt  # as if the cancel never came

    monkeypatch.setattr(asyncpg, "connect", connect_losing_a_cancel)
    link = PostgresLink(PostgresSettings(f"{pg_dsn}?application_name={name}"))
    link.acquire()
    await within(connecting.wait())
    await within(link.release(), 5)
    assert lost.is_set() and not link.healthy
    monkeypatch.undo()
    admin = await asyncpg.connect(pg_dsn)
    try:

        async def none_left() -> bool:
            count = "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1"
            return await admin.fetchval(count, name) == 0

        await eventually_async(none_left)  # the server sees the closed sockets at once
    finally:
        await admin.close()
