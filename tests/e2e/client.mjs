// The official socket.io-client in Node: connect, report, and print the disconnect reason.
// Usage: node client.mjs URL TRANSPORT   (prints "connected ID", then "disconnect: REASON")
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

// The chat demo's pinned copy (examples/chat), installed by `make env`.
const chat = fileURLToPath(new URL("../../examples/chat/package.json", import.meta.url));
const { io } = createRequire(chat)("socket.io-client");

const [url, transport] = process.argv.slice(2);
const socket = io(url, { transports: [transport], reconnection: false });
socket.on("connect", () => console.log(`connected ${socket.id}`));
socket.on("connect_error", (error) => {
  console.log(`connect_error: ${error.message}`);
  process.exit(1);
});
socket.on("disconnect", (reason) => {
  console.log(`disconnect: ${reason}`);
  process.exit(0);
});
setTimeout(() => {
  console.log("timeout");
  process.exit(2);
}, 30000);
