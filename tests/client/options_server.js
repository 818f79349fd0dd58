#!/usr/bin/env node
// The official socket.io 4.8 server for the tests of our client's options
// (tests/client/test_client_options.py).
//
//   node options_server.js [OPTIONS_JSON]
//
// OPTIONS_JSON: {"name": "A", "cookie": false, "perMessageDeflate": false,
// "transports": ["polling", "websocket"]}. It records
// every Engine.IO request it gets (HTTP and WebSocket upgrades): the transport, the
// "x-test" header and the Cookie header. Events: "echo" acks its arguments back, "seen"
// acks the record, "whoami" acks the name, "transport" the transport's name, "deflate"
// whether the WebSocket negotiated permessage-deflate. Prints {"port": N} once listening.
"use strict";

const path = require("path");
const { createServer } = require("http");
const { Server } = require(path.join(__dirname, "..", "interop", "node_modules", "socket.io"));

const options = JSON.parse(process.argv[2] || "{}");
const httpServer = createServer();
const seen = [];
function record(req) {
  if (!req.url.startsWith("/socket.io/")) return;
  const query = new URL(req.url, "http://x").searchParams;
  seen.push({
    method: req.method,
    transport: query.get("transport"),
    header: req.headers["x-test"] ?? null,
    cookie: req.headers["cookie"] ?? null,
  });
}
const io = new Server(httpServer, {
  cookie: options.cookie ?? false,
  perMessageDeflate: options.perMessageDeflate ?? false,
  transports: options.transports ?? ["polling", "websocket"],
});
// After the server is attached: engine.io takes over the "request" listeners.
httpServer.prependListener("request", record);
if (httpServer.listenerCount("upgrade")) httpServer.prependListener("upgrade", record);

io.on("connection", (socket) => {
  socket.on("echo", (...args) => {
    const ack = args.pop();
    ack(...args);
  });
  socket.on("seen", (ack) => ack(seen));
  socket.on("whoami", (ack) => ack(options.name ?? ""));
  socket.on("transport", (ack) => ack(socket.conn.transport.name));
  socket.on("deflate", (ack) => {
    const ws = socket.conn.transport.socket;
    ack(Boolean(ws && ws._extensions && ws._extensions["permessage-deflate"]));
  });
});

httpServer.listen(options.port ?? 0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: httpServer.address().port }) + "\n");
});
