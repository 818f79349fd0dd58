"""aiosio.compat under test: the python-socketio peer's own app, with one line changed.

It reads ``pysocketio_app.py`` and runs it with ``import socketio`` replaced by ``from
aiosio import compat as socketio`` (nothing else differs: the migration this measures).
ASGI (default): the same ``socketio.ASGIApp`` under uvicorn as the python-socketio peer;
``--standalone``: ``sio.run()``, aiosio's own front door.

Run: ``python benchmarks/servers/compat_app.py --port P [--standalone]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

PEER = Path(__file__).with_name("pysocketio_app.py")


def load() -> dict[str, Any]:
    source = PEER.read_text()
    assert source.count("\nimport socketio\n") == 1
    source = source.replace("\nimport socketio\n", "\nfrom aiosio import compat as socketio\n")
    module: dict[str, Any] = {"__name__": "compat_app", "__file__": str(PEER)}
    exec(compile(source, str(PEER), "exec"), module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--standalone", action="store_true", help="aiosio's own front door")
    args = parser.parse_args()
    app = load()
    if args.standalone:
        app["sio"].io.run(host=args.host, port=args.port, log_level="warning")
        return
    import uvicorn

    uvicorn.run(
        app["app"],
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        ws=app["ws_implementation"](),
        ws_per_message_deflate=False,
        log_level="warning",
        access_log=False,
        lifespan="off",
    )


if __name__ == "__main__":
    main()
