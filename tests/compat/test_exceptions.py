"""python-socketio's exceptions and how a refusal becomes the native one."""

from __future__ import annotations

import pytest

from aiosio import compat as socketio
from aiosio.compat.exceptions import REFUSED, REJECTED, refusal
from aiosio.exceptions import ConnectionRefused


def test_hierarchy_as_python_socketio_documents_it() -> None:
    assert issubclass(socketio.ConnectionRefusedError, socketio.ConnectionError)
    for kind in (
        socketio.ConnectionError,
        socketio.TimeoutError,
        socketio.BadNamespaceError,
        socketio.DisconnectedError,
    ):
        assert issubclass(kind, socketio.SocketIOError)
    assert socketio.exceptions.ConnectionRefusedError is socketio.ConnectionRefusedError


@pytest.mark.parametrize(
    ("args", "message", "data"),
    [
        ((), REJECTED, None),
        (("authentication failed",), "authentication failed", None),
        (("no", {"retry": False}), "no", {"retry": False}),
        (("no", 1, 2), "no", [1, 2]),
        ((401,), "401", None),
    ],
)
def test_refusal_arguments(args: tuple[object, ...], message: str, data: object) -> None:
    error = socketio.ConnectionRefusedError(*args)
    assert (error.message, error.data) == (message, data)
    native = refusal(error)
    assert isinstance(native, ConnectionRefused)
    assert (native.message, native.data) == (message, data)
    expected = {"message": message} if data is None else {"message": message, "data": data}
    assert error.error_args == expected


def test_the_built_in_refusal_has_python_socketios_message() -> None:
    native = refusal(ConnectionRefusedError("whatever it says"))
    assert (native.message, native.data) == (REFUSED, None)
