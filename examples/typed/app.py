"""A typed chat server: every kind of annotation aiosio validates, in one small app.

Run it with ``aiosio serve examples.typed.app:io`` (from the repository's root), print its
AsyncAPI document with ``aiosio asyncapi examples.typed.app:io`` and write the TypeScript
types its client uses with ``aiosio typescript examples.typed.app:io -o
examples/typed/events.d.ts``.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import uuid
from decimal import Decimal
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, Field
from typing_extensions import TypedDict

import aiosio
from aiosio.server.socket import Socket


class Mood(enum.Enum):
    HAPPY = "happy"
    GRUMPY = "grumpy"


class ChatMessage(BaseModel):
    """A message as a client sends it."""

    text: Annotated[str, Field(min_length=1, max_length=500)]
    room: str = "lobby"
    mood: Mood | None = None


class Delivered(BaseModel):
    """What the server answers to a message."""

    id: uuid.UUID
    at: datetime.datetime


@dataclasses.dataclass
class Position:
    x: float
    y: float


class Credentials(TypedDict):
    """The handshake's auth payload."""

    token: str
    name: Annotated[str, Field(min_length=1, max_length=40)]


class Posted(BaseModel):
    """A message as the server broadcasts it."""

    id: uuid.UUID
    user: str
    text: str
    at: datetime.datetime
    price: Decimal | None = None


class ServerEvents(Protocol):
    """What the server emits to clients."""

    def chat(self, message: Posted) -> None:
        """A message posted in a room the client is in."""

    def moved(self, user: str, to: Position) -> None:
        """Someone moved."""

    def ping_me(self, nonce: int, *, ack: int) -> None:
        """The server asks for the nonce back."""


io = aiosio.Server(cors_allowed_origins="*")
io.declare(ServerEvents)
io.asyncapi_path = "/asyncapi.json"


@io.use
def authenticate(socket: Socket, auth: Credentials) -> None:
    """A client connects with a token and a name (checked before it joins)."""
    socket.data["name"] = auth["name"]


@io.handle("chat")
async def chat(socket: Socket, message: ChatMessage) -> Delivered:
    """Post a message in a room; the answer says when it was stored."""
    posted = Posted(
        id=uuid.uuid4(),
        user=socket.data["name"],
        text=message.text,
        at=datetime.datetime.now(datetime.UTC),
    )
    io.to(message.room).emit("chat", posted)
    return Delivered(id=posted.id, at=posted.at)


@io.handle("join")
def join(socket: Socket, room: Literal["lobby", "games", "help"]) -> list[str]:
    """Join one of the rooms; the answer lists the rooms the socket is in."""
    socket.join(room)
    return sorted(socket.rooms)


@io.handle("move")
def move(socket: Socket, to: Position, speed: Annotated[int, Field(ge=1, le=10)] = 1) -> None:
    """Move (no answer)."""
    io.emit("moved", socket.data["name"], to)


@io.handle("tag")
def tag(socket: Socket, tags: list[str], scores: dict[str, float]) -> int:
    """Tags and scores; the answer is how many tags."""
    return len(tags)


@io.handle("upload")
def upload(socket: Socket, name: str, data: bytes) -> tuple[str, int]:
    """A binary attachment; the answer is its name and size (two arguments)."""
    return name, len(data)


@io.handle("lookup")
def lookup(socket: Socket, key: int | str, when: datetime.date | None = None) -> Posted | None:
    """A union and an optional date; the answer may be null."""
    return None


if __name__ == "__main__":
    io.run(port=3000)
