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

        Args:
            event: The event name.
            data: The event's one argument, a tuple of several, or None for none.
            to: A sid or a room, or several; None (with no ``room``) reaches every client of
                the namespace.
            room: The same as ``to`` (python-socketio's older name); ``to`` wins.
            skip_sid: A sid or room, or several, left out (the sender, usually).
            namespace: The namespace; None means ``/`` (in a class-based namespace, its own).
            callback: Called with the client's answer; only when ``to`` is one client.
            ignore_queue: Accepted for python-socketio's sake; aiosio has no message queue to
                skip.
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

        Args:
            event: The event name.
            data: The event's one argument, a tuple of several, or None for none.
            to: The client's sid.
            sid: The same as ``to`` (python-socketio's older name).
            namespace: The namespace; None means ``/`` (in a class-based namespace, its own).
            timeout: Seconds to wait for the answer.
            ignore_queue: Accepted and ignored (no message queue to skip).

        Returns:
            The client's one answer argument, a tuple for several, None for none.

        Raises:
            ValueError: Neither ``to`` nor ``sid`` names the client.
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
        """Put the client ``sid`` in ``room``.

        Args:
            sid: The client (on this server or, with a cluster manager, on another).
            room: The room.
            namespace: The namespace; None means ``/`` (in a class-based namespace, its own).
        """
        op = partial(self._rooms_op, sid, room, namespace, True)
        if not self._defer(op):
            op()

    async def leave_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        """Take the client ``sid`` out of ``room``.

        Args:
            sid: The client.
            room: The room; leaving one the client is not in does nothing.
            namespace: The namespace; None means ``/`` (in a class-based namespace, its own).
        """
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
        """Take every client out of ``room``.

        Args:
            room: The room.
            namespace: The namespace; None means ``/`` (in a class-based namespace, its own).
        """
        nsp = self._namespace(namespace)
        if nsp is not None:
            nsp.in_(room).sockets_leave(room)

    def rooms(self, sid: str, namespace: str | None = None) -> list[str]:
        """The rooms the client ``sid`` is in.

        Args:
            sid: The client, on this server.
            namespace: The namespace; None means ``/`` (in a class-based namespace, its own).

        Returns:
            Its rooms, its own sid first; empty for a client not here.
        """
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
        """The client's session: a dict kept with its socket (``socket.data``).

        Args:
            sid: The client, on this server.
            namespace: The namespace; None means ``/`` (in a class-based namespace, its own).

        Returns:
            The session itself (changes to it are kept), a new empty dict the first time.

        Raises:
            KeyError: The client is not connected here.
        """
        socket = self._session_socket(sid, namespace)
        if not isinstance(socket.data, dict):
            socket.data = {}
        return socket.data

    async def save_session(
        self, sid: str, session: dict[str, Any], namespace: str | None = None
    ) -> None:
        """Replace the client's session.

        Args:
            sid: The client, on this server.
            session: The new session.
            namespace: The namespace; None means ``/`` (in a class-based namespace, its own).

        Raises:
            KeyError: The client is not connected here.
        """
        self._session_socket(sid, namespace).data = session

    @contextlib.asynccontextmanager
    async def session(
        self, sid: str, namespace: str | None = None
    ) -> AsyncIterator[dict[str, Any]]:
        """``async with sio.session(sid) as session:`` reads it, and saves it at the end.

        Args:
            sid: The client, on this server.
            namespace: The namespace; None means ``/`` (in a class-based namespace, its own).

        Yields:
            The session, saved back when the block ends.
        """
        session = await self.get_session(sid, namespace)
        yield session
        await self.save_session(sid, session, namespace)

    # -- clients ----------------------------------------------------------------------------

    async def disconnect(
        self, sid: str, namespace: str | None = None, ignore_queue: bool = False
    ) -> None:
        """Disconnect the client ``sid`` from the namespace.

        Args:
            sid: The client (on this server or, with a cluster manager, on another).
            namespace: The namespace; None means ``/`` (in a class-based namespace, its own).
            ignore_queue: Accepted and ignored (no message queue to skip).
        """
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
        """How the client ``sid`` is connected now.

        Args:
            sid: The client, on this server.
            namespace: The namespace; None means ``/`` (in a class-based namespace, its own).

        Returns:
            ``"websocket"`` or ``"polling"``.

        Raises:
            KeyError: The client is not connected here.
        """
        socket = self._session_socket(sid, namespace)
        return str(socket.conn.session.transport)

    def get_environ(self, sid: str, namespace: str | None = None) -> dict[str, Any] | None:
        """The environ of the client's handshake request (a WSGI-style dict, built on demand).

        Args:
            sid: The client, on this server.
            namespace: The namespace; None means ``/`` (in a class-based namespace, its own).

        Returns:
            The environ, or None if the client is not here.
        """
        socket = self._socket(sid, namespace)
        return None if socket is None else build_environ(socket.conn.request)

    # -- tasks and tools ------------------------------------------------------------------

    def start_background_task(
        self, target: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> asyncio.Task[Any]:
        """Run ``target(*args, **kwargs)`` as a task, kept until it ends.

        Args:
            target: A coroutine function (or a function, whose result is awaited if it is
                awaitable).
            *args: Its positional arguments.
            **kwargs: Its keyword arguments.

        Returns:
            The task; its exception, if any, is logged.
        """
        task = asyncio.get_running_loop().create_task(settle(target(*args, **kwargs)))
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background task failed", exc_info=task.exception())

    async def sleep(self, seconds: float = 0) -> None:
        """``asyncio.sleep``, python-socketio's way.

        Args:
            seconds: How long to sleep.
        """
        await asyncio.sleep(seconds)


def _names(rooms: str | Iterable[str]) -> tuple[str, ...]:
    return (rooms,) if isinstance(rooms, str) else tuple(rooms)


def _first_answer(answer: Callable[..., Any], error: Any, answers: list[Any]) -> None:
    """A broadcast's ack (``callback(error, answers)``, each answer a client's first
    argument) as python-socketio's callback of one client."""
    if error is None and answers:
        answer(answers[0])
