"""The compiled core (mypyc_build.py) is what runs when built, and the pure one otherwise.

``make test`` runs this module twice: in the normal suite, where every codec must be the
``.py`` source (an ``.so`` left in ``src/`` would hide the pure path from every other
test), and in the compiled run (``AIOSIO_COMPILED_DIR`` set, ``PYTHONPATH`` on that
folder), where each module of ``COMPILED`` must be the extension module built there. Both
runs then drive an acked event with a binary attachment end to end through the codecs.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
from pathlib import Path

from mypyc_build import COMPILED

import aiosio
import aiosio.testing
from aiosio.socketio import packets

COMPILED_DIR = os.environ.get("AIOSIO_COMPILED_DIR")
EXTENSIONS = tuple(importlib.machinery.EXTENSION_SUFFIXES)


def module_name(relative: str) -> str:
    return "aiosio." + relative.removesuffix(".py").replace("/", ".")


def test_the_codecs_are_the_expected_build() -> None:
    for relative in COMPILED:
        module = importlib.import_module(module_name(relative))
        path = Path(str(module.__file__))
        if COMPILED_DIR:
            assert path.name.endswith(EXTENSIONS), f"{module.__name__} is not compiled: {path}"
            assert path.is_relative_to(Path(COMPILED_DIR).resolve()), path
        else:
            assert path.suffix == ".py", f"{module.__name__} is not the pure module: {path}"
    # The decoder builds packets the way that is fast for the build it runs in.
    assert packets._NATIVE is bool(COMPILED_DIR)
    assert packets.decode('3/chat,7["a",1]') == packets.Packet(packets.ACK, "/chat", ["a", 1], 7)


async def test_an_acked_binary_event_end_to_end() -> None:
    io = aiosio.Server()

    @io.on("connection")
    def on_connection(socket: aiosio.Socket) -> None:
        socket.on("echo", lambda *args: list(args))

    async with aiosio.testing.connect(io) as client:
        answer = await client.emit_with_ack("echo", "text", b"\x00\x01" * 1000, {"n": [1, 2]})
    assert answer == ["text", b"\x00\x01" * 1000, {"n": [1, 2]}]
