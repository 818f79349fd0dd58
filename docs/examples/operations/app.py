"""A server ready for production: logs, metrics, the Admin UI, a health check, shutdown."""

import logging

import aiosio
import aiosio.admin
import aiosio.metrics

# aiosio logs on the "aiosio" logger tree (aiosio.server, aiosio.engine, ...); the
# command line's --log-level and --log-format set the same up for you.
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

io = aiosio.Server(
    health_path="/healthz",  # 200 while healthy, 503 while a cluster adapter is cut off
    shutdown_timeout=10,  # how long close() lets clients go before it cuts them
)

# Prometheus text format at /metrics: connections, events, bytes, dropped packets...
aiosio.metrics.enable(io, path="/metrics")

# The official Admin UI at /admin-ui/, talking to the /admin namespace.
aiosio.admin.instrument(
    io,
    auth={"type": "basic", "username": "admin", "password": "change-me"},
    mode="production",  # statistics only: no list of every socket and room
)


@io.on("connection")
def on_connection(socket: aiosio.Socket) -> None:
    @socket.on("ping")
    def ping() -> str:
        return "pong"


if __name__ == "__main__":
    # run() handles SIGINT and SIGTERM: connections are closed with "server shutting
    # down" and the process exits 0.
    io.run(port=3000)
