#!/usr/bin/env node
// The official socket.io-client (WebSocket only; its `ws` offers permessage-deflate by
// default) against a server with per_message_deflate, for tests/server/test_compression.py.
//
//   node compression_client.js URL COUNT ECHO_SIZE
//
// COUNT clients connect. Once all are, it prints {"ev": "ready", "extensions": [...]}: what
// each one's WebSocket negotiated (the extension and its parameters). Then every client
// records each "news" event (binary as {"$bin": base64}) until "done" arrives, and emits
// "echo" with a string of ECHO_SIZE characters, which the server acknowledges with the
// same string. The last line is {"ev": "result", "clients": [{"events": [...], "echo":
// bool}, ...]}; a failure prints {"ev": "fail", "message": ...} and exits with status 1.
"use strict";

const { io } = require("socket.io-client");

const [url, rawCount, rawSize] = process.argv.slice(2);
const count = Number(rawCount);
const echoSize = Number(rawSize);

function log(ev, fields = {}) {
  process.stdout.write(JSON.stringify({ ev, ...fields }) + "\n");
}

function encode(value) {
  if (Buffer.isBuffer(value) || value instanceof ArrayBuffer) {
    return { $bin: Buffer.from(value).toString("base64") };
  }
  return value;
}

function fail(message) {
  log("fail", { message });
  process.exit(1);
}

setTimeout(() => fail("timed out"), 20000).unref();

async function client() {
  const socket = io(url, { transports: ["websocket"], forceNew: true, reconnection: false });
  const events = [];
  socket.on("news", (...args) => events.push(args.map(encode)));
  socket.on("connect_error", (error) => fail(`connect_error: ${error.message}`));
  await new Promise((resolve) => socket.on("connect", resolve));
  const done = new Promise((resolve) => socket.on("done", resolve));
  const ws = socket.io.engine.transport.ws;
  const deflate = ws._extensions["permessage-deflate"];
  return { socket, events, done, extension: { name: ws.extensions, params: deflate ? deflate.params : null } };
}

async function main() {
  const clients = await Promise.all(Array.from({ length: count }, client));
  log("ready", { extensions: clients.map((c) => c.extension) });
  const payload = "echo:" + "0123456789abcdef".repeat(echoSize / 16);
  const results = await Promise.all(
    clients.map(async (c) => {
      await c.done;
      const answer = await c.socket.timeout(5000).emitWithAck("echo", payload);
      c.socket.disconnect();
      return { events: c.events, echo: answer === payload };
    }),
  );
  log("result", { clients: results });
  process.exit(0);
}

main().catch((error) => fail(String(error && error.stack)));
