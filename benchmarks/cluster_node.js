// Cluster benchmark helpers (run by benchmarks/cluster.py, not by hand):
//   node cluster_node.js server PORT KEY   socket.io 4.8 + @socket.io/redis-adapter 8.x
//   node cluster_node.js clients N COUNT PORT...   N raw WebSocket clients per port; one
//       per port sends "go" (COUNT broadcasts); prints {"deliveries", "seconds"} as JSON.
"use strict";
const path = require("path");
const modules = path.join(__dirname, "..", "tests", "interop", "node_modules");
const mode = process.argv[2];

async function server(port, key) {
  const { Server } = require(path.join(modules, "socket.io"));
  const { createAdapter } = require(path.join(modules, "@socket.io/redis-adapter"));
  const { createClient } = require(path.join(modules, "redis"));
  const pub = createClient({ url: "redis://127.0.0.1:6379" });
  const sub = pub.duplicate();
  await pub.connect();
  await sub.connect();
  const io = new Server({ adapter: createAdapter(pub, sub, { key }), transports: ["websocket"] });
  io.on("connection", (socket) => {
    socket.on("go", async (count) => {
      for (let i = 0; i < count; i++) {
        io.emit("tick", i);
        if (i % 50 === 49) await new Promise((r) => setTimeout(r, 5));
      }
    });
  });
  io.listen(Number(port));
  console.log("ready");
}

async function clients(perPort, count, ports) {
  const WebSocket = require(path.join(modules, "ws"));
  const sockets = [];
  for (const port of ports) {
    for (let i = 0; i < perPort; i++) {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=4&transport=websocket`);
      await new Promise((resolve, reject) => {
        ws.once("error", reject);
        ws.on("message", function first(data) {
          const text = data.toString();
          if (text[0] === "0") ws.send("40");
          else if (text.startsWith("40")) { ws.off("message", first); resolve(); }
        });
      });
      sockets.push([port, ws]);
    }
  }
  const expected = sockets.length * count * ports.length;
  let received = 0, first = 0, last = 0;
  await new Promise((resolve) => {
    let idle = setTimeout(resolve, 20000);
    for (const [, ws] of sockets) {
      ws.on("message", (data) => {
        const text = data.toString();
        if (text === "2") { ws.send("3"); return; }
        if (!text.startsWith("42")) return;
        const now = process.hrtime.bigint();
        if (!first) first = now;
        last = now;
        if (++received === expected) resolve();
        clearTimeout(idle);
        idle = setTimeout(resolve, 3000);
      });
    }
    const starters = new Set();
    for (const [port, ws] of sockets) {
      if (!starters.has(port)) { starters.add(port); ws.send(`42["go",${count}]`); }
    }
  });
  const seconds = Number(last - first) / 1e9;
  console.log(JSON.stringify({ deliveries: received, expected, seconds }));
  process.exit(0);
}

if (mode === "server") server(process.argv[3], process.argv[4]);
else clients(Number(process.argv[3]), Number(process.argv[4]), process.argv.slice(5).map(Number));
