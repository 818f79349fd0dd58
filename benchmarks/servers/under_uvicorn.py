"""How the benchmarks' ASGI apps run under uvicorn: one configuration for all of them.

The ASGI door (``aiosio_app.py --asgi``), python-socketio and the floor
(``asgi_floor.py``) are compared under the same server, so they share this: uvicorn
with uvloop, httptools, its fastest WebSocket protocol here, no per-message deflate (as
the Node peer), no access log, no lifespan.
"""

from __future__ import annotations

import argparse
import importlib.util
from typing import Any


def ws_implementation() -> str:
    """The fastest WebSocket implementation uvicorn can use here: its protocol on
    websockets' sans-I/O core where it has one (what ``--ws auto`` picks), about half the
    instructions per message of its deprecated ``websockets`` one; wsproto without it."""
    from uvicorn.config import WS_PROTOCOLS

    if importlib.util.find_spec("websockets") is None:
        return "wsproto"
    return "websockets-sansio" if "websockets-sansio" in WS_PROTOCOLS else "websockets"


def serve(app: Any, host: str, port: int) -> None:
    """Run ``app`` under uvicorn until stopped."""
    import uvicorn

    uvicorn.run(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        ws=ws_implementation(),
        ws_per_message_deflate=False,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )


def main(app: Any, description: str | None) -> None:
    """``--host`` and ``--port`` from the command line, then :func:`serve`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    serve(app, args.host, args.port)
