#!/usr/bin/env node
// The official socket.io-client against a server that refuses handshakes with 429:
// node limits_client.js URL TRANSPORT. Reconnection on, with a known backoff (100 ms
// doubling, no randomization). Prints one JSON object: each connect_error (message,
// description: the HTTP status for polling), each reconnect attempt with the time since
// the start, and whether it connected in the end.
"use strict";

const { io } = require("socket.io-client");

const [url, transport] = process.argv.slice(2);
const started = Date.now();
const result = { errors: [], attempts: [], connected: false };

const socket = io(url, {
  transports: [transport],
  reconnectionDelay: 100,
  reconnectionDelayMax: 2000,
  randomizationFactor: 0,
});
socket.on("connect_error", (error) => {
  result.errors.push({
    message: error.message,
    description: typeof error.description === "number" ? error.description : null,
    t: Date.now() - started,
  });
});
socket.io.on("reconnect_attempt", (attempt) => {
  result.attempts.push({ attempt, t: Date.now() - started });
});
socket.on("connect", () => {
  result.connected = true;
  result.t = Date.now() - started;
  socket.disconnect();
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(0);
});
setTimeout(() => {
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(0);
}, 15000);
