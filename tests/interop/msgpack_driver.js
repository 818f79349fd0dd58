// The official client with socket.io-msgpack-parser against our server.
// usage: node msgpack_driver.js URL TRANSPORTS
const { io } = require("socket.io-client");
const parser = require("socket.io-msgpack-parser");

const [url, transports] = process.argv.slice(2);
const socket = io(url, { transports: transports.split(","), parser, reconnection: false });
const seen = {};
const hex = (b) => Buffer.from(b).toString("hex");

socket.on("hello", (text, blob, callback) => {
  seen.hello = [text, hex(blob)];
  callback("thanks", Buffer.from([7, 8]));
});
socket.on("connect", async () => {
  seen.transport = socket.io.engine.transport.name;
  const answer = await socket.timeout(5000).emitWithAck("echo", { n: 1, b: Buffer.from([1, 2]) }, [Buffer.alloc(0)]);
  seen.echo = { n: answer.n, b: hex(answer.b) };
  socket.emit("report");
});
socket.on("report", (thanks, blob) => {
  seen.thanks = [thanks, hex(blob)];
  console.log(JSON.stringify(seen));
  socket.close();
  process.exit(0);
});
socket.on("connect_error", (err) => {
  console.log(JSON.stringify({ error: err.message }));
  process.exit(1);
});
setTimeout(() => {
  console.log(JSON.stringify({ error: "timeout", ...seen }));
  process.exit(1);
}, 15000);
