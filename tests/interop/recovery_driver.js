// Connection state recovery seen by the official socket.io-client.
// usage: node recovery_driver.js URL TRANSPORTS CUT_AFTER RECONNECT_DELAY_MS [PARSER]
// Counts "tick" events; after CUT_AFTER ticks (0: right after connecting) it cuts its
// transport (not a clean disconnect) and lets the client reconnect by itself. Prints one
// JSON line once the server sends "done".
const { io } = require("socket.io-client");

const [url, transports, cutAfter, delay, parserName] = process.argv.slice(2);
const options = {
  transports: transports.split(","),
  reconnectionDelay: Number(delay),
  reconnectionDelayMax: Number(delay),
  randomizationFactor: 0,
};
if (parserName === "msgpack") options.parser = require("socket.io-msgpack-parser");
const socket = io(url, options);
const seen = { connects: [], ticks: [], disconnects: [] };
let cut = false;

function cutTransport() {
  if (cut) return;
  cut = true;
  socket.io.engine.close(); // the transport goes away; the client does not know why
}

socket.on("connect", () => {
  seen.connects.push({ id: socket.id, recovered: socket.recovered });
  socket.emit("ready");
  if (Number(cutAfter) === 0) setTimeout(cutTransport, 50);
});
socket.on("disconnect", (reason) => seen.disconnects.push(reason));
socket.on("tick", (n) => {
  seen.ticks.push(n);
  if (seen.ticks.length === Number(cutAfter)) cutTransport();
});
socket.on("done", () => {
  console.log(JSON.stringify(seen));
  socket.close();
  process.exit(0);
});
setTimeout(() => {
  console.log(JSON.stringify({ error: "timeout", ...seen }));
  process.exit(1);
}, 20000);
