// An official socket.io 4.8 server with @socket.io/redis-adapter 8.x, driven by the
// Python tests: one JSON command per stdin line, one JSON answer per stdout line.
//
//   node node_cluster.js PORT KEY REDIS_URL SHARDED(0|1)
//
// Sockets join the room named by their auth ({room}) and get socket.data = {server: "node"}.
// Server-side emits of "hello" are answered with "node:<arg>"; every other server-side
// event is reported as {"sse": [event, ...args]}.
"use strict";

const path = require("path");
const readline = require("readline");
const modules = path.join(__dirname, "..", "interop", "node_modules");
const { Server } = require(path.join(modules, "socket.io"));
const { createAdapter, createShardedAdapter } = require(path.join(modules, "@socket.io/redis-adapter"));
const { Emitter } = require(path.join(modules, "@socket.io/redis-emitter"));
const { createClient } = require(path.join(modules, "redis"));

const [port, key, url, sharded] = process.argv.slice(2);

function out(value) {
  process.stdout.write(JSON.stringify(value) + "\n");
}

function plain(value) {
  // Buffers as {"$bytes": [...]} so the Python side can compare them.
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
  const pub = createClient({ url });
  const sub = pub.duplicate();
  const emitterClient = pub.duplicate();
  for (const client of [pub, sub, emitterClient]) {
    client.on("error", () => {});
    await client.connect();
  }
  const adapter = sharded === "1"
    ? createShardedAdapter(pub, sub, { channelPrefix: key })
    : createAdapter(pub, sub, { key });
  const io = new Server({ adapter, transports: ["websocket", "polling"] });
  const emitter = new Emitter(emitterClient, { key });

  io.on("connection", (socket) => {
    socket.data = { server: "node" };
    socket.join((socket.handshake.auth && socket.handshake.auth.room) || "room");
  });
  io.on("hello", (arg, callback) => {
    if (typeof callback === "function") callback("node:" + arg);
  });
  const seen = (event) => (...args) => {
    if (typeof args[args.length - 1] === "function") args.pop()("node");
    out({ sse: [event, ...plain(args)] });
  };
  for (const event of ["notice", "tell"]) io.on(event, seen(event));

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
    acks: async (cmd) => plain(await target(cmd).timeout(cmd.timeout).emitWithAck(cmd.event, ...revive(cmd.args || []))),
    fetch: async (cmd) => (await target(cmd).fetchSockets()).map((s) => ({ id: s.id, data: s.data, rooms: [...s.rooms] })),
    sse: async (cmd) => plain(await io.of(cmd.nsp || "/").serverSideEmitWithAck(cmd.event, ...revive(cmd.args || []))),
    count: async () => io.of("/").adapter.serverCount(),
    join: async (cmd) => { target(cmd).socketsJoin(cmd.room); return true; },
    leave: async (cmd) => { target(cmd).socketsLeave(cmd.room); return true; },
    disconnect: async (cmd) => { target(cmd).disconnectSockets(true); return true; },
    emitter: async (cmd) => {
      let operator = emitter.of(cmd.nsp || "/");
      if (cmd.rooms && cmd.rooms.length) operator = operator.to(cmd.rooms);
      if (cmd.except && cmd.except.length) operator = operator.except(cmd.except);
      operator.emit(cmd.event, ...revive(cmd.args || []));
      return true;
    },
    emitterSse: async (cmd) => { emitter.serverSideEmit(cmd.event, ...revive(cmd.args || [])); return true; },
  };

  io.listen(Number(port));
  const channelCount = async () => io.of("/").adapter.serverCount();
  while ((await channelCount()) < 1) await new Promise((r) => setTimeout(r, 20));
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
