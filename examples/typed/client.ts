// A typed client of examples/typed/app.py: `tsc --strict` checks every emit, answer and
// listener against the types aiosio generated from the server's handlers (events.d.ts).
import { io, Socket } from "socket.io-client";
import type {
  ClientToServerEvents,
  Delivered,
  HandshakeAuth,
  Posted,
  ServerToClientEvents,
} from "./events";

const auth: HandshakeAuth = { token: "secret", name: "ada" };
const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io("http://localhost:3000", {
  auth,
});

socket.on("chat", (message: Posted) => {
  console.log(`${message.user}: ${message.text}`);
});
socket.on("moved", (user, to) => console.log(user, to.x, to.y));
socket.on("ping_me", (nonce, callback) => callback(nonce));

async function main(): Promise<void> {
  const delivered: Delivered = await socket.emitWithAck("chat", { text: "hello", room: "lobby" });
  console.log("stored", delivered.id, "at", delivered.at);
  const rooms: string[] = await socket.emitWithAck("join", "games");
  console.log("in", rooms.join(", "));
  socket.emit("move", { x: 1, y: 2 }, 3);
  socket.emit("tag", ["a", "b"], { a: 1.5 }, (count) => console.log(count + 1));
  socket.emit("upload", "hello.txt", new TextEncoder().encode("hi"), (name, size) =>
    console.log(name.toUpperCase(), size.toFixed(0)),
  );
  const found = await socket.emitWithAck("lookup", 42, null);
  console.log(found === null ? "none" : found.text);
  socket.disconnect();
}

void main();
