"""AsyncSimpleClient: python-socketio's handler-less client, over the native one.

``receive()`` returns the next event as a list ``[event, *args]``, as python-socketio
does; ``call`` waits for an acknowledgement. The native :class:`aiosio.SimpleClient`
does the work; this class translates the arguments and the exceptions.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import Any, Self

from aiosio.client import SimpleClient
from aiosio.compat.client import connect_options
from aiosio.compat.exceptions import ConnectionError, DisconnectedError, TimeoutError
from aiosio.compat.handlers import arguments
from aiosio.exceptions import AckTimeout, Disconnected, InvalidState
from aiosio.exceptions import ConnectionError as NativeConnectionError

__all__ = ["AsyncSimpleClient"]


class AsyncSimpleClient:
    """python-socketio 5's ``AsyncSimpleClient``: one namespace, events queued.

    Args:
        *args: Accepted and not used.
        **kwargs: python-socketio's client options; ``reconnection``,
            ``reconnection_attempts`` (0: no limit) and ``reconnection_delay`` apply.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # python-socketio hands these to its AsyncClient; the reconnection ones apply.
        keys = ("reconnection", "reconnection_attempts", "reconnection_delay")
        self._options = {key: kwargs[key] for key in keys if key in kwargs}
        if self._options.get("reconnection_attempts") == 0:
            self._options["reconnection_attempts"] = math.inf
        self.client = SimpleClient()
        self.namespace = "/"

    @property
    def sid(self) -> str | None:
        return self.client.id

    @property
    def transport(self) -> str:
        return self.client.transport or ""

    @property
    def connected(self) -> bool:
        return self.client.connected

    async def connect(
        self,
        url: str,
        headers: dict[str, str] | None = None,
        auth: Any = None,
        transports: str | Sequence[str] | None = None,
        namespace: str = "/",
        socketio_path: str = "socket.io",
        wait_timeout: float = 5,
    ) -> None:
        """Connect to ``namespace`` of the server at ``url``.

        Args:
            url: The server's URL.
            headers: Extra HTTP headers of every request.
            auth: The CONNECT payload.
            transports: ``"polling"``, ``"websocket"`` or both, in order.
            namespace: The namespace to join.
            socketio_path: The server's path (``socket.io``).
            wait_timeout: Seconds to wait for the connection.

        Raises:
            ConnectionError: Already connected, refused, or not reached in time.
        """
        if self.client.connected:
            raise ConnectionError("Already connected")
        self.namespace = namespace
        options = connect_options(self._options, socketio_path, headers, transports)
        options["timeout"] = wait_timeout
        if auth is not None:
            options["auth"] = auth
        try:
            await self.client.connect(url.rstrip("/") + namespace, **options)
        except (NativeConnectionError, InvalidState) as exc:
            raise ConnectionError(str(exc)) from None

    async def emit(self, event: str, data: Any = None) -> None:
        """Send an event.

        Args:
            event: The event name.
            data: The event's one argument, a tuple of several, or None for none.

        Raises:
            DisconnectedError: The client is not connected.
        """
        self._check()
        await self.client.emit(event, *arguments(data))

    async def call(self, event: str, data: Any = None, timeout: float = 60) -> Any:
        """Emit and wait for the server's acknowledgement.

        Args:
            event: The event name.
            data: The event's one argument, a tuple of several, or None for none.
            timeout: Seconds to wait for the answer.

        Returns:
            The server's one answer argument, a tuple of several, or None.

        Raises:
            TimeoutError: No answer in ``timeout`` seconds.
            DisconnectedError: The client is not connected.
        """
        self._check()
        try:
            return await self.client.call(event, *arguments(data), timeout=timeout)
        except AckTimeout:
            raise TimeoutError() from None
        except Disconnected:
            raise DisconnectedError() from None

    async def receive(self, timeout: float | None = None) -> list[Any]:
        """The next event from the server.

        Args:
            timeout: Seconds to wait; None waits as long as the client stays connected.

        Returns:
            The event as ``[event, *args]``.

        Raises:
            TimeoutError: Nothing came within ``timeout`` seconds.
            DisconnectedError: The client is disconnected (and will not reconnect).
        """
        try:
            return await self.client.receive(timeout=timeout)
        except (builtins.TimeoutError, AckTimeout):
            raise TimeoutError() from None
        except (Disconnected, InvalidState):
            raise DisconnectedError() from None

    async def disconnect(self) -> None:
        """Disconnect (nothing happens if not connected)."""
        await self.client.disconnect()

    def _check(self) -> None:
        if not self.client.connected:
            raise DisconnectedError()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Disconnect, whether the block raised or not."""
        await self.disconnect()
