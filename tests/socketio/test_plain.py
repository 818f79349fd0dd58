"""aiosio.socketio.plain: typed values as plain data, for both parsers.

The JSON parser calls it only for what orjson refuses (models, Decimal); the msgpack
parser for everything msgpack cannot write (also datetimes, UUIDs, enums, dataclasses).
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import uuid
from decimal import Decimal

import msgpack
import pytest
from pydantic import BaseModel

from aiosio.exceptions import LocalProtocolError
from aiosio.socketio.packets import encode_ack, encode_event
from aiosio.socketio.parsers import MsgpackParser
from aiosio.socketio.plain import plain_value


class Item(BaseModel):
    name: str
    price: Decimal
    at: datetime.datetime


class Kind(enum.Enum):
    A = "a"


@dataclasses.dataclass
class Point:
    x: int
    kind: Kind


AT = datetime.datetime(2026, 3, 4, 5, 6, 7, tzinfo=datetime.UTC)


def test_plain_values() -> None:
    item = Item(name="n", price=Decimal("2.50"), at=AT)
    assert plain_value(item) == {"name": "n", "price": "2.50", "at": "2026-03-04T05:06:07Z"}
    assert plain_value(Decimal("1E+3")) == "1E+3"
    assert plain_value(AT) == "2026-03-04T05:06:07+00:00"
    assert plain_value(datetime.date(2026, 1, 2)) == "2026-01-02"
    assert plain_value(uuid.UUID(int=1)) == "00000000-0000-0000-0000-000000000001"
    assert plain_value(Kind.A) == "a"
    assert plain_value(Point(1, Kind.A)) == {"x": 1, "kind": Kind.A}
    for refused in (object(), {1, 2}, Point):
        with pytest.raises(TypeError, match="is not JSON serialisable"):
            plain_value(refused)


def test_the_json_parser_writes_models_as_plain_text_packets() -> None:
    item = Item(name="n", price=Decimal("2.50"), at=AT)
    assert encode_event("/", ["item", item, Point(1, Kind.A)]) == (
        '2["item",{"name":"n","price":"2.50","at":"2026-03-04T05:06:07Z"},{"x":1,"kind":"a"}]',
        [],
    )
    assert encode_ack("/", [Decimal("3")], 4) == ('34["3"]', [])
    text, attachments = encode_event("/x", ["item", item, b"\x01"], 2)
    assert text.startswith('51-/x,2["item",{"name":"n"') and attachments == [b"\x01"]
    with pytest.raises(LocalProtocolError, match="cannot encode arguments"):
        encode_event("/", ["item", {1, 2}])


def test_the_msgpack_parser_writes_them_too() -> None:
    [packet] = MsgpackParser().encode_event("/", ["item", Point(1, Kind.A), AT, uuid.UUID(int=2)])
    assert isinstance(packet, bytes)
    assert msgpack.unpackb(packet)["data"] == [
        "item",
        {"x": 1, "kind": "a"},
        "2026-03-04T05:06:07+00:00",
        "00000000-0000-0000-0000-000000000002",
    ]
