#!/usr/bin/env node
// The official socket.io-client against aiosio's users, presence, history and
// reauthentication: node presence_client.js URL. One JSON line per observation.
"use strict";

const { io } = require("socket.io-client");

const [url] = process.argv.slice(2);
const out = (value) => process.stdout.write(JSON.stringify(value) + "\n");

// The helper docs/presence-and-history.md shows, as an application would write it.
async function reauthenticate(socket, auth) {
  const answer = await socket.timeout(10000).emitWithAck("aiosio:reauthenticate", auth);
  if (!answer.ok) throw new Error(answer.message);
  socket.auth = auth; // used on the next reconnection
}

const socket = io(url, { transports: ["websocket"], reconnection: false, auth: { user: "ann" } });
socket.on("news", (n) => out({ ev: "news", n }));
socket.on("presence", (diff) => out({ ev: "presence", diff }));
socket.on("connect_error", (error) => {
  out({ ev: "connect_error", message: error.message });
  process.exit(1);
});
socket.on("disconnect", (reason) => {
  out({ ev: "disconnect", reason });
  process.exit(0);
});
socket.on("connect", async () => {
  out({ ev: "connect" });
  for (const auth of [{ token: "bad" }, { user: "ann", token: "good" }]) {
    try {
      await reauthenticate(socket, auth);
      out({ ev: "reauth", ok: true, auth: socket.auth });
    } catch (error) {
      out({ ev: "reauth", ok: false, message: error.message });
    }
  }
  socket.emit("ready");
});
