#!/usr/bin/env node
// The official socket.io 4.8 server, for the tests of our Python client.
//
//   node node_server.js [OPTIONS_JSON]
//
// OPTIONS_JSON: {"port": 0, "pingInterval": ms, "pingTimeout": ms, "transports": [...],
// "maxHttpBufferSize": bytes, "recovery": false, "parser": "json" | "msgpack"}. Once
// listening, the server prints one JSON line {"port": N} on stdout. It runs until killed.
//
// The same scenarios are served by tests/client/client_support.py with aiosio.Server, so the
// client tests run against both:
//   every namespace but /private: "echo" acks its arguments back; "emit-back" (event,
//     ...args) emits them to the sender; "ask" (event, ...args) emits to the sender with
//     an ack and acks the client's answer back as an array (or {"error": message});
//     "join" (room) then "to-room" (room, event, ...args); "engine-id" acks the Engine.IO
//     sid, "transport" the transport's name, "handshake" the auth and query;
//     "disconnect-me" disconnects the socket from its namespace, "close-me" closes the
//     whole connection; "drop-ack-once" (key) acks the number of deliveries of key, except
//     for the first delivery, whose ack is dropped; "deliveries" acks that table.
//   /private refuses any client without auth {"token": "secret"} with the message
//     "not authorized" and the data {"code": 42}.
"use strict";

const { createServer } = require("http");
const { Server } = require("socket.io");

const options = JSON.parse(process.argv[2] || "{}");
const httpServer = createServer();
const io = new Server(httpServer, {
  pingInterval: options.pingInterval ?? 25000,
  pingTimeout: options.pingTimeout ?? 20000,
  transports: options.transports ?? ["polling", "websocket"],
  maxHttpBufferSize: options.maxHttpBufferSize ?? 1e6,
  connectionStateRecovery: options.recovery ? { maxDisconnectionDuration: 60000 } : undefined,
  parser: options.parser === "msgpack" ? require("socket.io-msgpack-parser") : undefined,
});

const deliveries = {};

function scenarios(socket) {
  socket.on("echo", (...args) => {
    const ack = args.pop();
    if (typeof ack === "function") ack(...args);
  });
  socket.on("emit-back", (event, ...args) => socket.emit(event, ...args));
  socket.on("ask", (event, ...rest) => {
    const ack = rest.pop();
    socket.timeout(5000).emit(event, ...rest, (err, ...answer) => {
      ack(err ? { error: err.message } : answer);
    });
  });
  socket.on("join", (room, ack) => {
    socket.join(room);
    ack();
  });
  socket.on("to-room", (room, event, ...args) => io.of(socket.nsp.name).to(room).emit(event, ...args));
  socket.on("engine-id", (ack) => ack(socket.conn.id));
  socket.on("transport", (ack) => ack(socket.conn.transport.name));
  socket.on("handshake", (ack) => ack({ auth: socket.handshake.auth, query: socket.handshake.query, headers: socket.handshake.headers }));
  socket.on("disconnect-me", () => socket.disconnect());
  socket.on("close-me", () => socket.disconnect(true));
  socket.on("drop-ack-once", (key, ack) => {
    deliveries[key] = (deliveries[key] || 0) + 1;
    if (deliveries[key] > 1) ack(deliveries[key]);
  });
  socket.on("deliveries", (ack) => ack(deliveries));
}

io.on("connection", scenarios);
io.of("/news").on("connection", scenarios);
io.of("/admin").on("connection", scenarios);
const privateNamespace = io.of("/private");
privateNamespace.use((socket, next) => {
  if (socket.handshake.auth && socket.handshake.auth.token === "secret") return next();
  const err = new Error("not authorized");
  err.data = { code: 42 };
  next(err);
});
privateNamespace.on("connection", scenarios);

httpServer.listen(options.port ?? 0, "127.0.0.1", () => {
  process.stdout.write(JSON.stringify({ port: httpServer.address().port }) + "\n");
});

process.on("SIGTERM", () => process.exit(0));
