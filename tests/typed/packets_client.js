// The official socket.io-client (pinned in tests/typed) against a typed aiosio server whose
// packet middleware checks every packet, and whose broadcasts ask for typed answers.
//   node packets_client.js URL TRANSPORT
// Two sockets connect: "good" answers the server's "ask" with a valid Note, "bad" with an
// invalid one. "good" sends valid, invalid and unknown packets, then "ready"; both close
// when the server says "bye". Prints what came back as one JSON object.
"use strict";
const { io } = require("socket.io-client");

const [url, transport] = process.argv.slice(2);
const options = { transports: [transport], reconnection: false, forceNew: true };
const ANSWERS = { good: { text: "yes", stars: "2" }, bad: { stars: "many", secret: "pw" } };

function connect(name) {
  const socket = io(url, { ...options, auth: { name } });
  socket.on("ask", (callback) => callback(ANSWERS[name]));
  return new Promise((resolve, reject) => {
    socket.on("connect", () => resolve(socket));
    socket.on("connect_error", reject);
  });
}

function ack(socket, ...args) {
  return new Promise((resolve) => socket.timeout(5000).emit(...args, (error, ...answer) => {
    resolve(error ? { timeout: true } : answer);
  }));
}

async function main() {
  const good = await connect("good");
  const bad = await connect("bad");
  const bye = Promise.all([good, bad].map((s) => new Promise((r) => s.once("bye", r))));
  const report = {};
  report.valid = await ack(good, "note", { text: "hi", stars: "3" });
  report.invalid = await ack(good, "note", { text: 5, secret: "attic" });
  report.unknown = await ack(good, "other", 1);
  good.emit("note", { nope: true }); // no ack: the server's error listeners hear it
  report.afterwards = await ack(good, "ping");
  good.emit("ready");
  await bye;
  report.connected = good.connected && bad.connected;
  good.close();
  bad.close();
  process.stdout.write(JSON.stringify(report));
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack || error));
  process.exit(1);
});
