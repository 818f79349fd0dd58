// The official socket.io-client against a Socket.IO server mounted inside a web app.
// Usage: node app_client.js URL PATH TRANSPORT
// Connects with {path, transports: [TRANSPORT]}, emits "echo" three times with an ack,
// prints each answer as JSON on a line of its own, then "done" and disconnects.
const { io } = require("socket.io-client");

const [url, path, transport] = process.argv.slice(2);
const socket = io(url, { path, transports: [transport], reconnection: false });
socket.on("connect_error", (error) => {
  console.log(`connect_error: ${error.message}`);
  process.exit(1);
});
socket.on("connect", async () => {
  for (let n = 0; n < 3; n++) {
    const answer = await socket.timeout(10000).emitWithAck("echo", { n, transport });
    console.log(JSON.stringify(answer));
  }
  console.log(`done ${socket.io.engine.transport.name}`);
  socket.disconnect();
  process.exit(0);
});
setTimeout(() => {
  console.log("timeout");
  process.exit(2);
}, 30000);
