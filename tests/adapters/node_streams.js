// An official socket.io 4.8 server with @socket.io/redis-streams-adapter 0.3.1 and
// connection state recovery, driven by the Python tests over stdin/stdout.
//
//   node node_streams.js PORT STREAM CHANNEL_PREFIX REDIS_URL WINDOW_MS
//
// A new socket joins the room of its auth ({room}) and gets socket.data = {server: "node"};
// every connection is reported as {"connection": {id, recovered, rooms, data}}. Server-side
// emits of "hello" are answered with "node:<arg>".
"use strict";

const path = require("path");
const readline = require("readline");
const modules = path.join(__dirname, "..", "interop", "node_modules");
const { Server } = require(path.join(modules, "socket.io"));
const { createAdapter } = require(path.join(modules, "@socket.io/redis-streams-adapter"));
const { createClient } = require(path.join(modules, "redis"));

const [port, streamName, channelPrefix, url, windowMs] = process.argv.slice(2);

function out(value) {
  process.stdout.write(JSON.stringify(value) + "\n");
}

function plain(value) {
  if (value instanceof Uint8Array) value = Buffer.from(value);
  if (Buffer.isBuffer(value)) return { $bytes: [...value] };
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

function revive(value) {
  if (value && typeof value === "object" && Array.isArray(value.$bytes)) {
    return Buffer.from(value.$bytes);
  }
  if (Array.isArray(value)) return value.map(revive);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, revive(v)]));
  }
  return value;
}

async function main() {
  const redis = createClient({ url });
  redis.on("error", () => {});
  await redis.connect();
  const io = new Server({
    adapter: createAdapter(redis, { streamName, channelPrefix }),
    connectionStateRecovery: { maxDisconnectionDuration: Number(windowMs), skipMiddlewares: true },
    transports: ["websocket", "polling"],
  });

  io.on("connection", (socket) => {
    if (!socket.recovered) {
      socket.data = { server: "node" };
      socket.join((socket.handshake.auth && socket.handshake.auth.room) || "room");
    }
    out({
      connection: {
        id: socket.id,
        recovered: socket.recovered,
        rooms: [...socket.rooms].sort(),
        data: socket.data,
      },
    });
  });
  io.on("hello", (arg, callback) => {
    if (typeof callback === "function") callback("node:" + arg);
  });

  const target = (cmd) => {
    let operator = io.of(cmd.nsp || "/");
    if (cmd.rooms && cmd.rooms.length) operator = operator.to(cmd.rooms);
    if (cmd.except && cmd.except.length) operator = operator.except(cmd.except);
    return operator;
  };

  const handlers = {
    emit: async (cmd) => {
      target(cmd).emit(cmd.event, ...revive(cmd.args || []));
      return true;
    },
    fetch: async (cmd) =>
      (await target(cmd).fetchSockets()).map((s) => ({ id: s.id, data: s.data, rooms: [...s.rooms].sort() })),
    sse: async (cmd) => plain(await io.serverSideEmitWithAck(cmd.event, ...revive(cmd.args || []))),
    count: async () => io.of("/").adapter.serverCount(),
  };

  io.listen(Number(port));
  while ((await io.of("/").adapter.serverCount()) < 1) await new Promise((r) => setTimeout(r, 20));
  // The stream reader starts from "$" on a client of its own: give it time to block.
  await new Promise((r) => setTimeout(r, 300));
  out({ ready: Number(port) });

  const lines = readline.createInterface({ input: process.stdin });
  lines.on("line", async (line) => {
    const cmd = JSON.parse(line);
    try {
      out({ id: cmd.id, result: await handlers[cmd.op](cmd) });
    } catch (err) {
      out({ id: cmd.id, error: String(err && err.message) });
    }
  });
  lines.on("close", () => process.exit(0));
}

main().catch((err) => {
  out({ fatal: String(err && err.stack) });
  process.exit(1);
});
