// The Node side of benchmarks/cluster_backends.py (run by it, not by hand):
//   node cluster_backends_node.js PORT KEY URL
// socket.io 4.8 on the backend URL names: redis://host:port (@socket.io/redis-adapter),
// redis://h1:p1,h2:p2 (a Redis Cluster, its sharded adapter) or postgresql://...
// (@socket.io/postgres-adapter). Every socket joins "room"; "go" COUNT broadcasts COUNT
// "tick" events to the room, in bursts of 50.
"use strict";
const path = require("path");
const modules = path.join(__dirname, "..", "tests", "interop", "node_modules");
const { Server } = require(path.join(modules, "socket.io"));
const [port, key, url] = process.argv.slice(2);

async function adapter() {
  if (url.startsWith("postgres")) {
    const pg = require(path.join(modules, "pg"));
    const { createAdapter } = require(path.join(modules, "@socket.io/postgres-adapter"));
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    return createAdapter(pool, { channelPrefix: key });
  }
  const redis = require(path.join(modules, "redis"));
  const { createAdapter, createShardedAdapter } = require(path.join(modules, "@socket.io/redis-adapter"));
  const seeds = url.replace(/^redis:\/\//, "").split(",");
  if (seeds.length === 1) {
    const pub = redis.createClient({ url });
    const sub = pub.duplicate();
    await Promise.all([pub.connect(), sub.connect()]);
    return createAdapter(pub, sub, { key });
  }
  const pub = redis.createCluster({ rootNodes: seeds.map((seed) => ({ url: `redis://${seed}` })) });
  const sub = pub.duplicate();
  await Promise.all([pub.connect(), sub.connect()]);
  return createShardedAdapter(pub, sub, { channelPrefix: key });
}

async function main() {
  const io = new Server({ adapter: await adapter(), transports: ["websocket"] });
  io.on("connection", (socket) => {
    socket.join("room");
    socket.on("go", async (count) => {
      for (let i = 0; i < count; i++) {
        io.to("room").emit("tick", i);
        if (i % 50 === 49) await new Promise((r) => setTimeout(r, 5));
      }
    });
  });
  io.listen(Number(port));
  console.log("ready");
}

main();
