// Wrong uses of the generated types: each line marked WRONG must fail to compile.
import { io, Socket } from "socket.io-client";
import type { ClientToServerEvents, ServerToClientEvents } from "./events";

const socket: Socket<ServerToClientEvents, ClientToServerEvents> = io("http://localhost:3000");

socket.emit("chat", { txt: "typo" }, () => {}); // WRONG: no such field, text missing
socket.emit("join", "kitchen", () => {}); // WRONG: not one of the rooms
socket.emit("move", { x: "1", y: 2 }); // WRONG: x is a number
socket.emit("nope"); // WRONG: not an event of the server
socket.on("moved", (user: number) => {}); // WRONG: user is a string
async function answers(): Promise<void> {
  const rooms: number = await socket.emitWithAck("join", "lobby"); // WRONG: string[]
}
void answers;
