// An official socket.io 4.8 server with @socket.io/redis-adapter 8.x (on a Redis Cluster when
// the URL lists several hosts, redis://h1:p1,h2:p2; or, when the URL is
// postgresql://..., @socket.io/postgres-adapter 0.5 and @socket.io/postgres-emitter), driven
// by the Python tests: one JSON command per stdin line, one JSON answer per stdout line.
//
//   node node_cluster.js PORT KEY URL SHARDED(0|1)
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
const { createClient, createCluster } = require(path.join(modules, "redis"));

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

async function redisServer() {
  // "redis://h1:p1,h2:p2": a Redis Cluster, these nodes its seeds.
  const seeds = url.replace(/^redis:\/\//, "").split(",");
  const pub = seeds.length > 1
    ? createCluster({ rootNodes: seeds.map((seed) => ({ url: `redis://${seed}` })) })
    : createClient({ url });
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
  return { io, emitter: new Emitter(emitterClient, { key }) };
}

async function postgresServer() {
  const pg = require(path.join(modules, "pg"));
  const postgresAdapter = require(path.join(modules, "@socket.io/postgres-adapter"));
  const postgresEmitter = require(path.join(modules, "@socket.io/postgres-emitter"));
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  pool.on("error", () => {});
  const options = { channelPrefix: key, heartbeatInterval: 300, heartbeatTimeout: 3000 };
  const io = new Server({
    adapter: postgresAdapter.createAdapter(pool, options),
    transports: ["websocket", "polling"],
  });
  // Emitter#of() forgets the options: one emitter per namespace instead.
  const emitters = new Map();
  const emitter = {
    of(nsp) {
      if (!emitters.has(nsp)) emitters.set(nsp, new postgresEmitter.Emitter(pool, nsp, { channelPrefix: key }));
      return emitters.get(nsp);
    },
    serverSideEmit(...args) { return this.of("/").serverSideEmit(...args); },
  };
  return { io, emitter };
}

async function main() {
  const { io, emitter } = url.startsWith("postgres") ? await postgresServer() : await redisServer();

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
