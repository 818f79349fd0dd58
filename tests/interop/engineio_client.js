// Drives an aiosio Engine.IO server with the official engine.io-client.
//
//   node engineio_client.js SCENARIO URL [OPTIONS-JSON]
//
// The server is an echo: each message comes back as it went. Prints one JSON line with
// what the client saw; exits 1 (with an "error" key) when the scenario fails in Node.
//
// Scenarios:
//   echo       connect with options.transports, exchange text and binary both ways
//   upgrade    connect with polling then WebSocket, wait for "upgrade", then echo
//   heartbeat  answer options.pings pings, then echo once: the session stayed alive
//   silent     never answer pings: the server must close us
"use strict";

const { Socket } = require("engine.io-client");

const [scenario, url, rawOptions] = process.argv.slice(2);
const options = JSON.parse(rawOptions || "{}");
const started = Date.now();
const result = { scenario };

// Node exits by itself once the client's last requests (its close) are done.
function finish(extra) {
  console.log(JSON.stringify({ ...result, ...extra }));
  process.exitCode = 0;
}

function fail(message) {
  console.log(JSON.stringify({ ...result, error: String(message) }));
  process.exit(1);
}

setTimeout(() => fail("scenario timed out"), options.timeoutMs || 20000).unref();

const MESSAGES = [
  "hello",
  Buffer.from([0, 1, 2, 255]),
  "h\u00e9llo \u2603 \ud83d\ude00",
  Buffer.alloc(0),
  "x".repeat(70000),
  Buffer.alloc(70000, 7),
];

function describe(data) {
  if (typeof data === "string") {
    return { text: data.length > 50 ? `${data.slice(0, 10)}...(${data.length})` : data };
  }
  const bytes = Buffer.from(data instanceof ArrayBuffer ? new Uint8Array(data) : data);
  return bytes.length > 50
    ? { binary: `${bytes.subarray(0, 4).toString("hex")}...(${bytes.length})` }
    : { binary: bytes.toString("hex") };
}

function open(transports, extra = {}) {
  const socket = new Socket(url, { path: "/socket.io/", transports, ...extra });
  socket.on("error", (err) => fail(`socket error: ${err && err.message}`));
  return socket;
}

// Send every message, resolve with what came back (in order) once all have.
function echo(socket) {
  return new Promise((resolve) => {
    const received = [];
    const onMessage = (data) => {
      received.push(describe(data));
      if (received.length === MESSAGES.length) {
        socket.off("message", onMessage);
        resolve(received);
      }
    };
    socket.on("message", onMessage);
    for (const message of MESSAGES) socket.send(message);
  });
}

function closeAndFinish(socket, extra) {
  socket.on("close", () => finish(extra));
  socket.close();
}

const scenarios = {
  echo() {
    const socket = open(options.transports, { upgrade: false });
    socket.on("open", async () => {
      const transport = socket.transport.name;
      const received = await echo(socket);
      closeAndFinish(socket, {
        transport,
        sid: socket.id,
        sent: MESSAGES.map(describe),
        received,
      });
    });
  },

  upgrade() {
    const socket = open(["polling", "websocket"]);
    const seen = [];
    socket.on("open", () => seen.push(["open", socket.transport.name]));
    socket.on("upgrade", async (transport) => {
      seen.push(["upgrade", transport.name, socket.transport.name]);
      const received = await echo(socket);
      closeAndFinish(socket, {
        transport: socket.transport.name,
        sid: socket.id,
        seen,
        sent: MESSAGES.map(describe),
        received,
      });
    });
    socket.on("upgradeError", (err) => fail(`upgrade error: ${err && err.message}`));
  },

  heartbeat() {
    const socket = open(options.transports, { upgrade: false });
    let pings = 0;
    socket.on("close", (reason) => fail(`closed after ${pings} pings: ${reason}`));
    socket.on("ping", async () => {
      pings += 1;
      if (pings === options.pings) {
        const [reply] = await new Promise((resolve) => {
          socket.once("message", (data) => resolve([data]));
          socket.send("still here");
        });
        socket.off("close");
        closeAndFinish(socket, {
          transport: socket.transport.name,
          sid: socket.id,
          pings,
          reply,
          elapsedMs: Date.now() - started,
        });
      }
    });
  },

  silent() {
    const socket = open(options.transports, { upgrade: false });
    // Stub the pong: the client still sees each ping, it just never answers.
    const sendPacket = socket._sendPacket.bind(socket);
    socket._sendPacket = (type, ...rest) => (type === "pong" ? undefined : sendPacket(type, ...rest));
    let openedAt = 0;
    let pings = 0;
    socket.on("open", () => {
      openedAt = Date.now();
      result.transport = socket.transport.name;
      result.sid = socket.id;
    });
    socket.on("ping", () => {
      pings += 1;
    });
    socket.on("close", (reason, description) =>
      finish({
        reason,
        description: description && (description.description || description.message || null),
        pings,
        closedAfterMs: Date.now() - openedAt,
      }),
    );
  },
};

if (!scenarios[scenario]) fail(`unknown scenario ${scenario}`);
scenarios[scenario]();
