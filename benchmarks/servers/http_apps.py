"""The applications of the HTTP benchmark (benchmarks/http_apps.py), each with Socket.IO
mounted at /socket.io as users mount it (which is also how the harness sees a server is
ready): a FastAPI JSON route and a Starlette plaintext route.

``python benchmarks/servers/http_apps.py --server aiosio|uvicorn|granian --app
fastapi|starlette --port P`` serves one with ``aiosio serve``, uvicorn (httptools and
uvloop) or granian, one process, no access log.
"""

from __future__ import annotations

import argparse
import os
import sys

from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Mount, Route

import aiosio

io = aiosio.Server(serve_client=False)

fastapi_app = FastAPI()


@fastapi_app.get("/json")
async def json_route() -> dict[str, str]:
    return {"message": "Hello, World!"}


fastapi_app.mount("/socket.io", io.asgi_app())


async def plaintext(request: Request) -> PlainTextResponse:
    return PlainTextResponse("Hello, World!")


starlette_app = Starlette(
    routes=[Route("/plaintext", plaintext), Mount("/socket.io", io.asgi_app())]
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--server", choices=("aiosio", "uvicorn", "granian"), required=True)
    parser.add_argument("--app", choices=("fastapi", "starlette"), required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    target = f"benchmarks.servers.http_apps:{args.app}_app"
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.path.insert(0, repo)  # the target is imported by name, from the repository
    port = str(args.port)
    if args.server == "aiosio":
        from aiosio.cli import main as aiosio_main

        options = ["--no-access-log", "--log-level", "warning", "--lifespan", "off"]
        sys.exit(aiosio_main(["serve", target, "--port", port, *options]))
    if args.server == "uvicorn":
        import uvicorn

        uvicorn.run(
            target,
            port=args.port,
            loop="uvloop",
            http="httptools",
            access_log=False,
            log_level="warning",
            lifespan="off",
        )
        return
    granian = os.path.join(os.path.dirname(sys.executable), "granian")
    os.execv(
        granian,
        [
            *(granian, "--interface", "asgi", "--port", port, "--workers", "1"),
            *("--log-level", "warning", "--working-dir", repo, target),
        ],
    )


if __name__ == "__main__":
    main()
