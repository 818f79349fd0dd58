"""Operations on clients by sid: python-socketio's emit, call, rooms, sessions, disconnect.

Each one finds the native socket of ``sid`` in its namespace (or, through the adapter,
on another server of a cluster) and calls it. Inside a ``connect`` handler, what concerns
clients is recorded instead (:class:`Pending`) and done after the CONNECT ack: see
:mod:`aiosio.compat.server`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from aiosio.app import Server
from aiosio.compat.environ import build_environ
from aiosio.compat.exceptions import DisconnectedError, TimeoutError
from aiosio.compat.handlers import arguments, message_of, settle
from aiosio.exceptions import AckTimeout, Disconnected
from aiosio.server.namespace import Namespace
from aiosio.server.socket import Socket

__all__ = ["PENDING", "Pending", "SidOperations"]

logger = logging.getLogger("aiosio.compat")


@dataclass(slots=True)
class Pending:
    """What a connect handler did to its own client, to be done after the CONNECT ack."""

    deferring: bool = True
    ops: list[Callable[[], None]] = field(default_factory=list)


PENDING: contextvars.ContextVar[Pending | None] = contextvars.ContextVar(
    "aiosio_compat_pending", default=None
)


class SidOperations:
    """The sid-addressed methods of :class:`~aiosio.compat.AsyncServer`."""

    # Sockets not in their namespace's table: connecting (in the connect handler), or
    # gone (in the disconnect handler), by (namespace, sid).
    _closing: dict[tuple[str, str], Socket]
    _tasks: set[asyncio.Task[Any]]

    @property
    def io(self) -> Server:
        """The native server (made by :class:`~aiosio.compat.AsyncServer`)."""
        raise NotImplementedError

    # -- sockets by sid -------------------------------------------------------------------

    def _namespace(self, namespace: str | None) -> Namespace | None:
        return self.io.namespaces.get(namespace or "/")

    def _socket(self, sid: str, namespace: str | None) -> Socket | None:
        nsp = self._namespace(namespace)
        socket = nsp.sockets.get(sid) if nsp is not None else None
        if socket is None:
            socket = self._closing.get((namespace or "/", sid))
        return socket

    @staticmethod
    def _defer(op: Callable[[], None]) -> bool:
        """Inside a connect handler: keep ``op`` for after the CONNECT ack."""
        pending = PENDING.get()
        if pending is not None and pending.deferring:
            pending.ops.append(op)
            return True
        return False

    # -- emitting -------------------------------------------------------------------------

    async def emit(
        self,
        event: str,
        data: Any = None,
        to: str | Iterable[str] | None = None,
        room: str | Iterable[str] | None = None,
        skip_sid: str | Iterable[str] | None = None,
        namespace: str | None = None,
        callback: Callable[..., Any] | None = None,
        ignore_queue: bool = False,
    ) -> None:
        """Emit to one client (``to=sid``), a room or several, or everyone.

        ``data`` is one argument, a tuple of several, or None for none; ``callback``
        (with a single client only) gets the client's acknowledgement.
        """
        op = partial(self._emit, event, arguments(data), to if to is not None else room)
        op = partial(op, skip_sid, namespace, callback)
        if not self._defer(op):
            op()

    def _emit(
        self,
        event: str,
        args: tuple[Any, ...],
        target: str | Iterable[str] | None,
        skip_sid: str | Iterable[str] | None,
        namespace: str | None,
        callback: Callable[..., Any] | None,
    ) -> None:
        nsp = self._namespace(namespace)
        if nsp is None:
            return
        answer = None if callback is None else partial(self._answer, callback)
        if isinstance(target, str) and skip_sid is None:
            socket = nsp.sockets.get(target)
            if socket is not None:
                socket.emit(event, *args, callback=answer)
                return
        operator = nsp.to(*_names(target)) if target is not None else nsp.to()
        if skip_sid is not None:
            operator = operator.except_(*_names(skip_sid))
        if answer is not None:
            operator.emit(event, *args, callback=partial(_first_answer, answer))
        else:
            operator.emit(event, *args)

    def _answer(self, callback: Callable[..., Any], *args: Any) -> None:
        result = callback(*args)
        if asyncio.iscoroutine(result):
            self.start_background_task(lambda: result)

    send = message_of(emit)

    async def call(
        self,
        event: str,
        data: Any = None,
        to: str | None = None,
        sid: str | None = None,
        namespace: str | None = None,
        timeout: float = 60,
        ignore_queue: bool = False,
    ) -> Any:
        """Emit to one client and wait for its acknowledgement.

        Returns:
            The client's one answer argument, a tuple for several, None for none.

        Raises:
            TimeoutError: No answer within ``timeout`` seconds.
            DisconnectedError: The client is not connected, or left before answering.
        """
        target = to or sid
        if target is None:
            raise ValueError("call needs the sid of one client: to=sid")
        socket = self._socket(target, namespace)
        try:
            if socket is not None and socket.connected:
                return await socket.timeout(timeout).emit_with_ack(event, *arguments(data))
            nsp = self._namespace(namespace)
            if nsp is None:
                raise DisconnectedError(f"no client {target} in {namespace or '/'}")
            operator = nsp.to(target).timeout(timeout)
            answers = await operator.emit_with_ack(event, *arguments(data), per_socket=True)
        except AckTimeout:
            raise TimeoutError(f"no answer to {event!r} within {timeout} s") from None
        except Disconnected:
            raise DisconnectedError(f"client {target} disconnected") from None
        answer = answers.get(target)
        if answer is None:
            raise DisconnectedError(f"no client {target} in {namespace or '/'}")
        if isinstance(answer, AckTimeout):
            raise TimeoutError(f"no answer to {event!r} within {timeout} s")
        return answer[0] if len(answer) == 1 else (tuple(answer) if answer else None)

    # -- rooms ------------------------------------------------------------------------------

    async def enter_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """Put the client ``sid`` in ``room``."""
        op = partial(self._rooms_op, sid, room, namespace, True)
        if not self._defer(op):
            op()

    async def leave_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """Take the client ``sid`` out of ``room``."""
        op = partial(self._rooms_op, sid, room, namespace, False)
        if not self._defer(op):
            op()

    def _rooms_op(self, sid: str, room: str, namespace: str | None, enter: bool) -> None:
        nsp = self._namespace(namespace)
        if nsp is None:
            return
        socket = nsp.sockets.get(sid)
        if socket is not None:
            socket.join(room) if enter else socket.leave(room)
        elif enter:
            nsp.in_(sid).sockets_join(room)
        else:
            nsp.in_(sid).sockets_leave(room)

    async def close_room(self, room: str, namespace: str | None = None) -> None:
        """Take every client out of ``room``."""
        nsp = self._namespace(namespace)
        if nsp is not None:
            nsp.in_(room).sockets_leave(room)

    def rooms(self, sid: str, namespace: str | None = None) -> list[str]:
        """The rooms the client ``sid`` is in (its own sid among them)."""
        socket = self._socket(sid, namespace)
        if socket is None:
            return []
        # A connecting socket (in its connect handler) is in no room yet but its own.
        return sorted(socket.rooms or {sid}, key=lambda room: room != sid)

    # -- sessions ---------------------------------------------------------------------------

    def _session_socket(self, sid: str, namespace: str | None) -> Socket:
        socket = self._socket(sid, namespace)
        if socket is None:
            raise KeyError("Session is disconnected")
        return socket

    async def get_session(self, sid: str, namespace: str | None = None) -> dict[str, Any]:
        """The client's session: a dict kept with its socket (``socket.data``)."""
        socket = self._session_socket(sid, namespace)
        if not isinstance(socket.data, dict):
            socket.data = {}
        return socket.data

    async def save_session(
        self, sid: str, session: dict[str, Any], namespace: str | None = None
    ) -> None:
        """Replace the client's session."""
        self._session_socket(sid, namespace).data = session

    @contextlib.asynccontextmanager
    async def session(
        self, sid: str, namespace: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """``async with sio.session(sid) as session:`` reads it, and saves it at the end."""
        session = await self.get_session(sid, namespace)
        yield session
        await self.save_session(sid, session, namespace)

    # -- clients ----------------------------------------------------------------------------

    async def disconnect(
        self, sid: str, namespace: str | None = None, ignore_queue: bool = False
    ) -> None:
        """Disconnect the client ``sid`` from the namespace."""
        op = partial(self._disconnect, sid, namespace)
        if not self._defer(op):
            op()

    def _disconnect(self, sid: str, namespace: str | None) -> None:
        nsp = self._namespace(namespace)
        if nsp is None:
            return
        socket = nsp.sockets.get(sid)
        if socket is not None:
            socket.disconnect()
        else:
            nsp.in_(sid).disconnect_sockets()

    def transport(self, sid: str, namespace: str | None = None) -> str:
        """``"websocket"`` or ``"polling"``: how the client ``sid`` is connected now."""
        socket = self._session_socket(sid, namespace)
        return str(socket.conn.session.transport)

    def get_environ(self, sid: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The environ of the client's handshake request, or None if it is not here."""
        socket = self._socket(sid, namespace)
        return None if socket is None else build_environ(socket.conn.request)

    # -- tasks and tools ------------------------------------------------------------------

    def start_background_task(
        self, target: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> asyncio.Task[Any]:
        """Run ``target(*args, **kwargs)`` (a coroutine function) as a task, kept until it ends."""
        task = asyncio.get_running_loop().create_task(settle(target(*args, **kwargs)))
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background task failed", exc_info=task.exception())

    async def sleep(self, seconds: float = 0) -> None:
        """``asyncio.sleep``, python-socketio's way."""
        await asyncio.sleep(seconds)


def _names(rooms: str | Iterable[str]) -> tuple[str, ...]:
    return (rooms,) if isinstance(rooms, str) else tuple(rooms)


def _first_answer(answer: Callable[..., Any], error: Any, answers: list[Any]) -> None:
    """A broadcast's ack (``callback(error, answers)``, each answer a client's first
    argument) as python-socketio's callback of one client."""
    if error is None and answers:
        answer(answers[0])
