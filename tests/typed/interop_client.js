// The official socket.io-client (pinned in tests/typed) sends valid and invalid payloads
// to a typed aiosio server and prints what came back as one JSON object.
//   node interop_client.js URL TRANSPORT
"use strict";
const { io } = require("socket.io-client");

const [url, transport] = process.argv.slice(2);
const options = { transports: [transport], reconnection: false, forceNew: true };

function connect(auth) {
  const socket = io(url, { ...options, auth });
  return new Promise((resolve) => {
    socket.on("connect", () => resolve({ socket }));
    socket.on("connect_error", (error) => {
      socket.close();
      resolve({ error: { message: error.message, data: error.data } });
    });
  });
}

function ack(socket, ...args) {
  return new Promise((resolve) => socket.timeout(5000).emit(...args, (error, ...answer) => {
    resolve(error ? { timeout: true } : answer);
  }));
}

async function main() {
  const report = {};
  report.refused = (await connect({ token: 1 })).error;
  const { socket, error } = await connect({ token: "t", name: "ada" });
  if (error) throw new Error(`refused: ${JSON.stringify(error)}`);
  report.valid = await ack(socket, "note", { text: "hi", stars: "2" }, "lobby");
  report.invalid = await ack(socket, "note", { text: "", stars: "many", secret: "pw" }, "attic");
  report.binary = await ack(socket, "upload", "f.bin", Buffer.from([1, 2, 3]));
  report.notBinary = await ack(socket, "upload", "f.bin", "text");
  socket.emit("note", { nope: true }); // no ack: the server's error listeners hear it
  report.afterwards = await ack(socket, "note", { text: "still here" }, "lobby");
  report.connected = socket.connected;
  socket.close();
  process.stdout.write(JSON.stringify(report));
}

main().catch((error) => {
  process.stderr.write(String(error && error.stack || error));
  process.exit(1);
});
