// HTTP/1.1 load generator for the application benchmarks (benchmarks/http_apps.py):
// CONNECTIONS keep-alive connections on raw `net` sockets, each sending its next GET as
// soon as the last answer is whole (no pipelining), for WARMUP then DURATION seconds.
//
//   node http_load.js --port P --path /json [--connections 50] [--warmup 1] [--duration 5]
//
// Prints one JSON line: {"result": {"requests_per_s", "p50_ms", "p99_ms", "errors"}}.
"use strict";

const net = require("node:net");
const { performance } = require("node:perf_hooks");

const opts = { port: 0, path: "/", connections: 50, warmup: 1, duration: 5, host: "127.0.0.1" };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const key = argv[i].replace(/^--/, "");
  if (!(key in opts)) throw new Error(`unknown option ${argv[i]}`);
  opts[key] = typeof opts[key] === "number" ? Number(argv[i + 1]) : argv[i + 1];
}
const request = Buffer.from(`GET ${opts.path} HTTP/1.1\r\nHost: ${opts.host}\r\n\r\n`);

let measuring = false;
let done = false;
let count = 0;
let errors = 0;
const latencies = [];

function client() {
  const socket = net.connect(opts.port, opts.host);
  socket.setNoDelay(true);
  let buffer = Buffer.alloc(0);
  let sent = 0;
  const send = () => {
    if (done) {
      socket.destroy();
      return;
    }
    sent = performance.now();
    socket.write(request);
  };
  socket.on("connect", send);
  socket.on("error", () => {
    errors++;
  });
  socket.on("data", (chunk) => {
    buffer = buffer.length ? Buffer.concat([buffer, chunk]) : chunk;
    for (;;) {
      const end = buffer.indexOf("\r\n\r\n");
      if (end < 0) return;
      const head = buffer.subarray(0, end).toString("latin1");
      const match = /content-length:\s*(\d+)/i.exec(head);
      if (!match) {
        errors++;
        socket.destroy();
        return;
      }
      const total = end + 4 + Number(match[1]);
      if (buffer.length < total) return;
      if (!head.startsWith("HTTP/1.1 200")) errors++;
      buffer = buffer.subarray(total);
      if (measuring) {
        count++;
        latencies.push(performance.now() - sent);
      }
      send();
    }
  });
}

for (let n = 0; n < opts.connections; n++) client();
setTimeout(() => {
  measuring = true;
  const started = performance.now();
  setTimeout(() => {
    measuring = false;
    done = true;
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const at = (q) => (latencies.length ? latencies[Math.floor(q * (latencies.length - 1))] : 0);
    const result = {
      requests_per_s: count / seconds,
      p50_ms: at(0.5),
      p99_ms: at(0.99),
      errors,
    };
    process.stdout.write(JSON.stringify({ result }) + "\n");
    process.exit(0);
  }, opts.duration * 1000);
}, opts.warmup * 1000);
