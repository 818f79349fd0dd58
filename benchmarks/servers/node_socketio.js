// The Node peer: the official socket.io 4.8 server, default ws engine, no
// per-message deflate, default maxHttpBufferSize (1e6). Same behaviour as the
// Python apps: join "bench" on connection; "echo" and "binecho" ack with their
// arguments; "broadcast" re-emits its arguments to the room as "msg".
"use strict";

const http = require("node:http");
const { Server } = require("socket.io");

function parsePort(argv) {
  const i = argv.indexOf("--port");
  const port = i >= 0 ? Number(argv[i + 1]) : NaN;
  if (!Number.isInteger(port) || port <= 0) {
    console.error("usage: node node_socketio.js --port PORT");
    process.exit(2);
  }
  return port;
}

const port = parsePort(process.argv);
const io = new Server({
  perMessageDeflate: false,
  maxHttpBufferSize: 1e6,
});

function ackWithArgs(args) {
  const ack = args.length > 0 && typeof args[args.length - 1] === "function" ? args.pop() : null;
  if (ack !== null) ack(...args);
}

io.on("connection", (socket) => {
  socket.join("bench");
  socket.on("echo", (...args) => ackWithArgs(args));
  socket.on("binecho", (...args) => ackWithArgs(args));
  socket.on("broadcast", (...args) => {
    if (args.length > 0 && typeof args[args.length - 1] === "function") args.pop();
    io.to("bench").emit("msg", ...args);
  });
});

const httpServer = http.createServer((_req, res) => {
  res.writeHead(404);
  res.end();
});
io.attach(httpServer);
httpServer.listen(port, "127.0.0.1");

function stop() {
  io.close();
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
