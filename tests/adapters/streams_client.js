// The official socket.io-client 4.8 for the Redis streams tests, driven over stdin/stdout.
//
//   node streams_client.js URL ROOM RECONNECTION_DELAY_MS [TRANSPORTS]
//
// Reports {"connect": {id, recovered, pid}}, {"disconnect": reason} and
// {"event": [name, ...args]} (the offset, when the server adds one, is the last argument).
// Commands (one JSON line each, answered with {"id", "result"}):
//   {"op": "cut", "to": URL, "reconnect": bool}  cut the transport (no clean disconnect),
//        point the manager at URL; with reconnect false, stay away until "reconnect"
//   {"op": "point", "to": URL}                   reconnect to URL next time
//   {"op": "reconnect"}                          connect again (with pid and offset)
"use strict";

const path = require("path");
const readline = require("readline");
const modules = path.join(__dirname, "..", "interop", "node_modules");
const { io } = require(path.join(modules, "socket.io-client"));

const [url, room, delay, transports] = process.argv.slice(2);

function out(value) {
  process.stdout.write(JSON.stringify(value) + "\n");
}

function plain(value) {
  if (value instanceof ArrayBuffer) value = Buffer.from(value);
  if (Buffer.isBuffer(value)) return { $bytes: [...value] };
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

const socket = io(url, {
  transports: (transports || "websocket").split(","),
  auth: { room },
  reconnectionDelay: Number(delay),
  reconnectionDelayMax: Number(delay),
  randomizationFactor: 0,
});

socket.on("connect", () => {
  out({ connect: { id: socket.id, recovered: socket.recovered, pid: socket._pid || null } });
});
socket.on("disconnect", (reason) => out({ disconnect: reason }));
socket.onAny((event, ...args) => out({ event: [event, ...plain(args)] }));

const handlers = {
  cut: (cmd) => {
    socket.io.reconnection(Boolean(cmd.reconnect));
    if (cmd.to) socket.io.uri = cmd.to;
    socket.io.engine.close(); // the transport goes away; the client does not know why
    return true;
  },
  point: (cmd) => {
    socket.io.uri = cmd.to; // the next (automatic) reconnection goes there
    return true;
  },
  reconnect: () => {
    socket.io.reconnection(true);
    socket.connect();
    return true;
  },
};

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", (line) => {
  const cmd = JSON.parse(line);
  try {
    out({ id: cmd.id, result: handlers[cmd.op](cmd) });
  } catch (err) {
    out({ id: cmd.id, error: String(err && err.message) });
  }
});
lines.on("close", () => process.exit(0));
