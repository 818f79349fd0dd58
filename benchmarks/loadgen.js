// Load generator for the aiosio benchmarks: raw Engine.IO v4 / Socket.IO v5 frames over
// many `ws` connections (and keep-alive HTTP requests for long-polling) in one Node
// process. No socket.io-client: it speaks just enough of the protocol, so that the
// process stays far from being the bottleneck.
//
//   node loadgen.js SCENARIO --port P [options]      SCENARIO: connect|echo|fanout|bin64k|polling
//
// Stdout carries one JSON object per line. Lines with an "event" key are signals to the
// harness (when "wait" is true, the load generator pauses that step until it reads one
// line on stdin; EOF on stdin releases every wait). The last line is {"result": {...}}
// or {"error": "..."}. Diagnostics go to stderr.
"use strict";

const crypto = require("node:crypto");
const http = require("node:http");
const net = require("node:net");
const readline = require("node:readline");
const { performance } = require("node:perf_hooks");
const WebSocket = require("ws");

const DEFAULTS = {
  host: "127.0.0.1",
  port: 0,
  connections: 1000, // connect: sockets to open
  concurrency: 200, // connect: handshakes in flight
  warmupConnections: 20, // connect: opened before the RSS baseline
  settle: 1.0, // connect: idle seconds before the RSS is read
  hold: 0, // connect: keep the sockets open this long, answering pings (soak)
  clients: 100, // echo, bin64k, polling: clients
  inflight: 10, // echo, bin64k: acks in flight per client
  warmup: 1.0, // seconds of load before measuring
  duration: 5.0, // seconds measured
  receivers: 1000, // fanout: sockets in the room besides the sender
  mode: "burst", // fanout: burst | steady
  burst: 100, // fanout burst: emits fired at once per round
  rounds: 10, // fanout burst: rounds at most (and at most `duration` seconds, 1 round at least)
  steadyInflight: 4, // fanout steady: broadcasts in flight
  size: 65536, // bin64k: attachment bytes
  payload: "hello from the aiosio load generator", // echo, fanout, polling: string argument
  timeout: 120, // seconds: the whole scenario, hard limit
  client: "raw", // raw: our own WebSocket and HTTP/1.1 clients on `net`; ws: `ws` and http.Agent
};

// ---------------------------------------------------------------- command line

function parseArgs(argv) {
  const opts = { ...DEFAULTS };
  const scenario = argv[0];
  for (let i = 1; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, "").replace(/-([a-z])/g, (_, c) => c.toUpperCase());
    if (!(key in DEFAULTS) || i + 1 >= argv.length) fail(`unknown or incomplete option ${argv[i]}`);
    opts[key] = typeof DEFAULTS[key] === "number" ? Number(argv[i + 1]) : argv[i + 1];
    if (typeof DEFAULTS[key] === "number" && !Number.isFinite(opts[key])) fail(`bad ${argv[i]}`);
  }
  if (!opts.port) fail("--port is required");
  return { scenario, opts };
}

function fail(message) {
  process.stdout.write(JSON.stringify({ error: message }) + "\n");
  process.exit(1);
}

// ---------------------------------------------------------------- harness signals

const stdinWaiters = [];
let stdinClosed = false;
const rl = readline.createInterface({ input: process.stdin });
rl.on("line", () => {
  const resolve = stdinWaiters.shift();
  if (resolve) resolve();
});
rl.on("close", () => {
  stdinClosed = true;
  while (stdinWaiters.length) stdinWaiters.shift()();
});

function signal(event, extra = {}, wait = false) {
  process.stdout.write(JSON.stringify({ event, wait, ...extra }) + "\n");
  if (!wait || stdinClosed) return Promise.resolve();
  return new Promise((resolve) => stdinWaiters.push(resolve));
}

function finish(result) {
  process.stdout.write(JSON.stringify({ result }) + "\n");
  // Exit without closing the sockets one by one: the kernel closes them all at once.
  process.exit(0);
}

// ---------------------------------------------------------------- helpers

const sleep = (s) => new Promise((resolve) => setTimeout(resolve, s * 1000));
const now = () => performance.now(); // milliseconds

function percentile(sorted, p) {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return round3(sorted[i]);
}

function latencyStats(samples) {
  const sorted = Float64Array.from(samples).sort();
  return { p50_ms: percentile(sorted, 50), p99_ms: percentile(sorted, 99), samples: sorted.length };
}

const round3 = (x) => Math.round(x * 1000) / 1000;

// Reads a decimal integer from a Buffer at `pos`; returns [value, next position].
function readInt(buf, pos) {
  let value = 0;
  let c = buf[pos];
  while (c >= 0x30 && c <= 0x39) {
    value = value * 10 + (c - 0x30);
    c = buf[++pos];
  }
  return [value, pos];
}

// A measurement window: counts between start() and stop(), with the CPU time of this
// process over the same interval, and tells the harness where it starts and ends.
class Window {
  constructor() {
    this.active = false;
    this.count = 0;
    this.latencies = [];
  }
  start() {
    signal("measure_start");
    this.active = true;
    this.count = 0;
    this.latencies = [];
    this.t0 = now();
    this.cpu0 = process.cpuUsage();
  }
  stop() {
    this.active = false;
    this.seconds = (now() - this.t0) / 1000;
    const cpu = process.cpuUsage(this.cpu0);
    this.cpu = (cpu.user + cpu.system) / 1e6 / this.seconds;
    signal("measure_end");
  }
  // Warm up, then measure for the duration.
  async run(opts) {
    await sleep(opts.warmup);
    this.start();
    await sleep(opts.duration);
    this.stop();
  }
}

// ---------------------------------------------------------------- WebSocket clients

const TEXT_PONG = "3";
const CONNECT = "40";
const HANDSHAKE_TIMEOUT_MS = 30000;

// Engine.IO and Socket.IO handshake shared by both WebSocket clients: answers the open
// packet with CONNECT, resolves on the CONNECT ack, answers pings, and after that passes
// every Socket.IO text packet (a Buffer starting with "4") to `onPacket`.
class EngineSocket {
  constructor(opts) {
    this.opts = opts;
    this.sid = null;
    this.onPacket = null;
    this.onBinary = null;
    this.closed = false;
    this.connected = false;
    this.resolve = null;
    this.reject = null;
  }

  connect() {
    return new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
      this.open();
    });
  }

  handleText(data) {
    const c0 = data[0];
    if (c0 === 0x34 /* 4: message */) {
      if (this.connected) {
        if (this.onPacket) this.onPacket(data);
      } else if (data[1] === 0x30 /* 0: CONNECT */) {
        this.connected = true;
        this.sid = JSON.parse(data.toString("utf8", 2)).sid;
        this.resolve(this);
      } else if (data[1] === 0x34 /* 4: CONNECT_ERROR */) {
        this.failed(new Error(`CONNECT_ERROR ${data.toString()}`));
      }
    } else if (c0 === 0x32 /* 2: ping */) {
      this.send(TEXT_PONG);
    } else if (c0 === 0x30 /* 0: open */) {
      this.send(CONNECT);
    } else if (c0 === 0x31 /* 1: close */) {
      this.failed(new Error("Engine.IO close packet"));
    }
  }

  handleBinary(data) {
    if (this.onBinary) this.onBinary(data);
  }

  handleClose(err) {
    this.closed = true;
    if (!this.connected) this.reject(err || new Error("closed before the CONNECT ack"));
  }
}

// The default client: WebSocket over a plain `net` socket, written for the least CPU per
// frame. Frames are parsed in place (no copy for a frame inside one read), sent with an
// all-zero masking key (legal, and it makes masking a no-op here; the server still
// unmasks as usual), and the frames sent to one socket in one event-loop turn leave in
// one write (cork until the next tick), as a busy client's would.
class RawClient extends EngineSocket {
  open() {
    const socket = net.connect({ host: this.opts.host, port: this.opts.port });
    this.socket = socket;
    this.upgraded = false;
    this.head = "";
    this.pending = []; // buffered chunks of an incomplete frame
    this.pendingBytes = 0;
    this.fragments = null; // payloads of a fragmented message
    this.fragmentOpcode = 0;
    this.corked = false;
    socket.setNoDelay(true);
    // One timer per connection attempt would cost the storm; a handshake stuck for 30 s is
    // caught by the scenario's hard time limit instead.
    socket.on("connect", () => {
      const key = websocketKey();
      socket.write(
        "GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n" +
          `Host: ${this.opts.host}:${this.opts.port}\r\n` +
          "Upgrade: websocket\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    socket.on("data", (chunk) => this.onData(chunk));
    socket.on("error", (err) => this.handleClose(err));
    socket.on("close", () => this.handleClose());
  }

  failed(err) {
    this.handleClose(err);
    this.socket.destroy();
  }

  onData(chunk) {
    if (!this.upgraded) {
      this.head += chunk.toString("latin1");
      const end = this.head.indexOf("\r\n\r\n");
      if (end < 0) return;
      if (!this.head.startsWith("HTTP/1.1 101")) {
        this.failed(new Error(`upgrade refused: ${this.head.split("\r\n")[0]}`));
        return;
      }
      this.upgraded = true;
      const rest = Buffer.from(this.head.slice(end + 4), "latin1");
      this.head = "";
      if (rest.length === 0) return;
      chunk = rest;
    }
    if (this.pendingBytes > 0) {
      this.pending.push(chunk);
      this.pendingBytes += chunk.length;
      if (this.pendingBytes < this.needed) return;
      chunk = Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
    }
    this.parse(chunk);
  }

  parse(buf) {
    let pos = 0;
    const n = buf.length;
    while (pos < n) {
      if (n - pos < 2) return this.keep(buf, pos, 2);
      const b0 = buf[pos];
      const b1 = buf[pos + 1];
      let len = b1 & 0x7f;
      let off = pos + 2;
      if (len === 126) {
        if (n - pos < 4) return this.keep(buf, pos, 4);
        len = buf.readUInt16BE(pos + 2);
        off = pos + 4;
      } else if (len === 127) {
        if (n - pos < 10) return this.keep(buf, pos, 10);
        len = Number(buf.readBigUInt64BE(pos + 2));
        off = pos + 10;
      }
      const masked = (b1 & 0x80) !== 0;
      const start = masked ? off + 4 : off;
      if (n < start + len) return this.keep(buf, pos, start + len - pos);
      let payload = buf.subarray(start, start + len);
      if (masked) payload = unmask(payload, buf.subarray(off, off + 4));
      this.frame(b0 & 0x80, b0 & 0x0f, payload);
      pos = start + len;
    }
  }

  keep(buf, pos, needed) {
    this.pending = [buf.subarray(pos)];
    this.pendingBytes = buf.length - pos;
    this.needed = needed;
  }

  frame(fin, opcode, payload) {
    if (opcode === 0) {
      if (this.fragments === null) return this.failed(new Error("stray continuation frame"));
      this.fragments.push(payload);
      if (!fin) return;
      payload = Buffer.concat(this.fragments);
      opcode = this.fragmentOpcode;
      this.fragments = null;
    } else if (!fin && opcode < 8) {
      this.fragments = [payload];
      this.fragmentOpcode = opcode;
      return;
    }
    switch (opcode) {
      case 1:
        this.handleText(payload);
        break;
      case 2:
        this.handleBinary(payload);
        break;
      case 8:
        this.socket.end();
        break;
      case 9:
        this.write(10, Buffer.from(payload));
        break;
      default:
        break;
    }
  }

  send(data) {
    if (typeof data === "string") this.write(1, data);
    else this.write(2, data);
  }

  // Writes one masked frame (FIN set) with an all-zero masking key.
  write(opcode, data) {
    const isString = typeof data === "string";
    const len = isString ? Buffer.byteLength(data) : data.length;
    const headerLen = (len < 126 ? 2 : len < 65536 ? 4 : 10) + 4;
    const frame = Buffer.allocUnsafe(isString ? headerLen + len : headerLen);
    frame[0] = 0x80 | opcode;
    if (len < 126) {
      frame[1] = 0x80 | len;
    } else if (len < 65536) {
      frame[1] = 0x80 | 126;
      frame.writeUInt16BE(len, 2);
    } else {
      frame[1] = 0x80 | 127;
      frame.writeBigUInt64BE(BigInt(len), 2);
    }
    frame.writeUInt32BE(0, headerLen - 4);
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(uncork, this);
    }
    if (isString) {
      frame.write(data, headerLen);
      this.socket.write(frame);
    } else {
      this.socket.write(frame);
      this.socket.write(data);
    }
  }
}

// Sec-WebSocket-Key values (base64 of 16 random bytes), drawn from a pool of random bytes.
let keyPool = Buffer.alloc(0);
let keyOffset = 0;
function websocketKey() {
  if (keyOffset + 16 > keyPool.length) {
    keyPool = crypto.randomBytes(16 * 1024);
    keyOffset = 0;
  }
  keyOffset += 16;
  return keyPool.toString("base64", keyOffset - 16, keyOffset);
}

function uncork(client) {
  client.corked = false;
  client.socket.uncork();
}

function unmask(payload, mask) {
  const out = Buffer.allocUnsafe(payload.length);
  for (let i = 0; i < payload.length; i++) out[i] = payload[i] ^ mask[i & 3];
  return out;
}

// The cross-check client (`--client ws`): the `ws` package, one write per frame.
class WsClient extends EngineSocket {
  open() {
    const url = `ws://${this.opts.host}:${this.opts.port}/socket.io/?EIO=4&transport=websocket`;
    const ws = new WebSocket(url, {
      perMessageDeflate: false,
      skipUTF8Validation: true,
      generateMask: (mask) => mask.fill(0), // ws skips the XOR for an all-zero key
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    });
    this.ws = ws;
    ws.on("message", (data, isBinary) => {
      if (isBinary) this.handleBinary(data);
      else this.handleText(data);
    });
    ws.on("error", (err) => this.handleClose(err));
    ws.on("close", () => this.handleClose());
  }

  failed(err) {
    this.handleClose(err);
    this.ws.terminate();
  }

  send(data) {
    this.ws.send(data);
  }
}

const newClient = (opts) => (opts.client === "ws" ? new WsClient(opts) : new RawClient(opts));

// Opens `n` clients with at most `concurrency` handshakes in flight. Resolves with the
// clients, the handshake latencies (ms) and the failures.
async function connectMany(opts, n, concurrency) {
  const clients = [];
  const latencies = [];
  let failed = 0;
  let next = 0;
  let firstError = null;
  async function worker() {
    while (next < n) {
      next += 1;
      const client = newClient(opts);
      const t0 = now();
      try {
        await client.connect();
        latencies.push(now() - t0);
        clients.push(client);
      } catch (err) {
        failed += 1;
        if (firstError === null) firstError = String(err && err.message ? err.message : err);
      }
    }
  }
  const workers = [];
  for (let i = 0; i < Math.min(concurrency, n); i++) workers.push(worker());
  await Promise.all(workers);
  return { clients, latencies, failed, firstError };
}

async function connectAll(opts, n) {
  const { clients, failed, firstError } = await connectMany(opts, n, opts.concurrency);
  if (failed > 0) fail(`${failed} of ${n} connections failed: ${firstError}`);
  return clients;
}

// ---------------------------------------------------------------- scenarios

async function scenarioConnect(opts) {
  const warm = await connectAll(opts, opts.warmupConnections);
  await sleep(opts.settle);
  await signal("baseline", { connections: warm.length }, true);
  const win = new Window();
  win.start();
  const { clients, latencies, failed, firstError } = await connectMany(
    opts,
    opts.connections,
    opts.concurrency,
  );
  win.stop();
  const seconds = win.seconds;
  await sleep(opts.settle);
  await signal("connected", { connections: clients.length }, true);
  const result = {
    connections: clients.length,
    failed,
    first_error: firstError,
    seconds: round3(seconds),
    conns_per_s: Math.round(clients.length / seconds),
    ...latencyStats(latencies),
    loadgen_cpu: round3(win.cpu),
  };
  if (opts.hold > 0) {
    const deadline = now() + opts.hold * 1000;
    while (now() < deadline) await sleep(Math.min(1, (deadline - now()) / 1000));
    const all = warm.concat(clients);
    result.held_seconds = opts.hold;
    result.dropped = all.filter((c) => c.closed).length;
  }
  finish(result);
}

async function scenarioEcho(opts) {
  const clients = await connectAll(opts, opts.clients);
  const win = new Window();
  const suffix = `["echo",${JSON.stringify(opts.payload)}]`;
  const expected = `[${JSON.stringify(opts.payload)}]`;
  let running = true;
  let mismatches = 0;
  for (const client of clients) {
    const sent = new Map();
    let nextId = 0;
    let checked = false;
    const sendOne = () => {
      const id = nextId++;
      sent.set(id, now());
      client.send(`42${id}${suffix}`);
    };
    client.onPacket = (buf) => {
      if (buf[1] !== 0x33 /* 3: ACK */) return;
      const [id, pos] = readInt(buf, 2);
      const t = sent.get(id);
      if (t === undefined) return;
      sent.delete(id);
      if (!checked) {
        checked = true;
        if (buf.toString("utf8", pos) !== expected) mismatches += 1;
      }
      if (win.active) {
        win.count += 1;
        win.latencies.push(now() - t);
      }
      if (running) sendOne();
    };
    for (let k = 0; k < opts.inflight; k++) sendOne();
  }
  await win.run(opts);
  running = false;
  if (mismatches > 0) fail(`${mismatches} clients got an ack that differs from the event`);
  finish({
    clients: clients.length,
    inflight: opts.inflight,
    acks: win.count,
    seconds: round3(win.seconds),
    acks_per_s: Math.round(win.count / win.seconds),
    ...latencyStats(win.latencies),
    loadgen_cpu: round3(win.cpu),
  });
}

async function scenarioBin64k(opts) {
  const clients = await connectAll(opts, opts.clients);
  const win = new Window();
  const attachment = Buffer.alloc(opts.size);
  for (let i = 0; i < attachment.length; i++) attachment[i] = (i * 7 + 3) & 0xff;
  const header = '["binecho",{"_placeholder":true,"num":0}]';
  let running = true;
  let bad = 0;
  for (const client of clients) {
    const sent = new Map();
    let nextId = 0;
    let pendingId = -1; // the BINARY_ACK whose attachment comes next
    const sendOne = () => {
      const id = nextId++;
      sent.set(id, now());
      client.send(`451-${id}${header}`);
      client.send(attachment);
    };
    client.onPacket = (buf) => {
      if (buf[1] !== 0x36 /* 6: BINARY_ACK */) return;
      const [, dash] = readInt(buf, 2); // attachment count, then "-"
      [pendingId] = readInt(buf, dash + 1);
    };
    client.onBinary = (buf) => {
      const t = sent.get(pendingId);
      if (t === undefined) return;
      sent.delete(pendingId);
      if (buf.length !== attachment.length || buf[1000] !== attachment[1000]) bad += 1;
      if (win.active) {
        win.count += 1;
        win.latencies.push(now() - t);
      }
      if (running) sendOne();
    };
    for (let k = 0; k < opts.inflight; k++) sendOne();
  }
  await win.run(opts);
  running = false;
  if (bad > 0) fail(`${bad} binary acks differ from the attachment sent`);
  const mib = (win.count * opts.size) / (1 << 20);
  finish({
    clients: clients.length,
    inflight: opts.inflight,
    size: opts.size,
    acks: win.count,
    seconds: round3(win.seconds),
    acks_per_s: Math.round(win.count / win.seconds),
    mib_per_s: round3(mib / win.seconds),
    ...latencyStats(win.latencies),
    loadgen_cpu: round3(win.cpu),
  });
}

// Fan-out: `receivers` sockets plus one sender, all in the room "bench" (the server joins
// every socket), so every broadcast reaches receivers + 1 sockets, the sender included.
async function scenarioFanout(opts) {
  const all = await connectAll(opts, opts.receivers + 1);
  const sender = all[all.length - 1];
  const members = all.length;
  const payload = JSON.stringify(opts.payload);
  const maxBroadcasts = 1 << 20;
  const sentAt = new Float64Array(maxBroadcasts);
  const received = new Uint32Array(maxBroadcasts);
  let delivered = 0;
  let nextId = 0;
  let onDelivery = null;
  const broadcast = () => {
    const id = nextId++;
    if (id >= maxBroadcasts) fail("too many broadcasts");
    const t = now();
    sentAt[id] = t;
    sender.send(`42["broadcast",${id},${t.toFixed(3)},${payload}]`);
  };
  // Every member parses the broadcast id: `42["msg",ID,...`.
  const prefix = '42["msg",'.length;
  for (const client of all) {
    client.onPacket = (buf) => {
      if (buf[1] !== 0x32 /* 2: EVENT */) return;
      const [id] = readInt(buf, prefix);
      delivered += 1;
      received[id] += 1;
      if (onDelivery) onDelivery(id);
    };
  }
  await sleep(0.2);
  if (opts.mode === "burst") {
    const rounds = [];
    const cpu0 = process.cpuUsage();
    const wall0 = now();
    signal("measure_start");
    // Rounds back to back, up to `rounds`, stopping once `duration` seconds were measured.
    for (let r = 0; r < opts.rounds && (r === 0 || (now() - wall0) / 1000 < opts.duration); r++) {
      const target = delivered + members * opts.burst;
      const t0 = now();
      const deadline = wall0 + opts.timeout * 900; // the whole burst, before the hard limit
      for (let b = 0; b < opts.burst; b++) broadcast();
      await new Promise((resolve) => {
        onDelivery = () => {
          if (delivered >= target) resolve();
        };
        const poll = setInterval(() => {
          if (delivered >= target || now() > deadline) {
            clearInterval(poll);
            resolve();
          }
        }, 50);
      });
      onDelivery = null;
      const seconds = (now() - t0) / 1000;
      const got = delivered - (target - members * opts.burst);
      rounds.push({ seconds, deliveries: got, complete: delivered >= target });
      if (delivered < target) break;
    }
    signal("measure_end");
    const cpu = process.cpuUsage(cpu0);
    const busy = (now() - wall0) / 1000;
    const seconds = rounds.reduce((s, r) => s + r.seconds, 0);
    const deliveries = rounds.reduce((s, r) => s + r.deliveries, 0);
    if (rounds.some((r) => !r.complete)) fail(`burst incomplete: ${JSON.stringify(rounds)}`);
    finish({
      mode: "burst",
      members,
      burst: opts.burst,
      rounds: rounds.length,
      deliveries,
      seconds: round3(seconds),
      deliveries_per_s: Math.round(deliveries / seconds),
      round_seconds: rounds.map((r) => round3(r.seconds)),
      loadgen_cpu: round3((cpu.user + cpu.system) / 1e6 / busy),
    });
    return;
  }
  // Steady: keep `steadyInflight` broadcasts in flight; one is done when every member got it.
  const win = new Window();
  let running = true;
  onDelivery = (id) => {
    if (win.active) {
      win.count += 1;
      win.latencies.push(now() - sentAt[id]);
    }
    if (received[id] === members && running) broadcast();
  };
  for (let k = 0; k < opts.steadyInflight; k++) broadcast();
  await win.run(opts);
  running = false;
  finish({
    mode: "steady",
    members,
    inflight: opts.steadyInflight,
    broadcasts: nextId,
    deliveries: win.count,
    seconds: round3(win.seconds),
    deliveries_per_s: Math.round(win.count / win.seconds),
    ...latencyStats(win.latencies),
    loadgen_cpu: round3(win.cpu),
  });
}

// ---------------------------------------------------------------- long-polling client

const RECORD_SEPARATOR = "\x1e";

// One keep-alive HTTP/1.1 connection on `net`, one request at a time (the default
// polling transport): a minimal response parser for Content-Length and chunked bodies.
// The connection is reopened when the server closes it.
class HttpConn {
  constructor(opts) {
    this.opts = opts;
    this.socket = null;
    this.waiter = null;
  }

  request(method, path, body) {
    if (this.socket === null || this.socket.destroyed) this.open();
    const bytes = body === undefined ? null : Buffer.from(body);
    let head =
      `${method} ${path} HTTP/1.1\r\nHost: ${this.opts.host}:${this.opts.port}\r\n` +
      "Connection: keep-alive\r\n";
    if (bytes !== null) {
      head += `Content-Type: text/plain;charset=UTF-8\r\nContent-Length: ${bytes.length}\r\n`;
    }
    const data = Buffer.from(`${head}\r\n`);
    this.socket.write(bytes === null ? data : Buffer.concat([data, bytes]));
    this.buf = Buffer.alloc(0);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject, method };
    });
  }

  open() {
    const socket = net.connect({ host: this.opts.host, port: this.opts.port });
    socket.setNoDelay(true);
    socket.on("data", (chunk) => {
      this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
      this.parse();
    });
    const closed = (err) => {
      const waiter = this.waiter;
      this.waiter = null;
      if (waiter) waiter.reject(err || new Error(`${waiter.method}: connection closed`));
    };
    socket.on("error", closed);
    socket.on("close", () => closed());
    this.socket = socket;
  }

  parse() {
    const buf = this.buf;
    const end = buf.indexOf("\r\n\r\n");
    if (end < 0 || this.waiter === null) return;
    const head = buf.toString("latin1", 0, end).toLowerCase();
    const status = Number(head.slice(9, 12));
    const bodyStart = end + 4;
    let body = null;
    let used = 0;
    const lengthMatch = /\r\ncontent-length: *(\d+)/.exec(head);
    if (lengthMatch) {
      const length = Number(lengthMatch[1]);
      if (buf.length < bodyStart + length) return;
      body = buf.subarray(bodyStart, bodyStart + length);
      used = bodyStart + length;
    } else if (/\r\ntransfer-encoding: *chunked/.test(head)) {
      const parts = [];
      let pos = bodyStart;
      for (;;) {
        const lineEnd = buf.indexOf("\r\n", pos);
        if (lineEnd < 0) return;
        const size = parseInt(buf.toString("latin1", pos, lineEnd), 16);
        if (buf.length < lineEnd + 2 + size + 2) return;
        if (size === 0) {
          used = lineEnd + 4;
          break;
        }
        parts.push(buf.subarray(lineEnd + 2, lineEnd + 2 + size));
        pos = lineEnd + 2 + size + 2;
      }
      body = Buffer.concat(parts);
    } else {
      body = Buffer.alloc(0);
      used = bodyStart;
    }
    this.buf = buf.subarray(used);
    const waiter = this.waiter;
    this.waiter = null;
    if (/\r\nconnection: *close/.test(head)) this.socket.end();
    const text = body.toString("utf8");
    if (status !== 200) waiter.reject(new Error(`${waiter.method} ${status}: ${text}`));
    else waiter.resolve(text);
  }
}

// An Engine.IO long-polling client: one GET always pending (as a real client keeps),
// POSTs sent one at a time with later packets queued, on two keep-alive connections
// (`--client ws`: on a shared http.Agent({keepAlive: true}) instead).
class PollingClient {
  constructor(opts, agent) {
    this.opts = opts;
    this.agent = agent;
    this.getConn = agent === null ? new HttpConn(opts) : null;
    this.postConn = agent === null ? new HttpConn(opts) : null;
    this.sid = null;
    this.onPacket = null;
    this.outbox = [];
    this.posting = false;
    this.stopped = false;
  }

  request(method, body) {
    const sid = this.sid ? `&sid=${this.sid}` : "";
    const path = `/socket.io/?EIO=4&transport=polling${sid}`;
    if (this.agent === null) {
      return (method === "GET" ? this.getConn : this.postConn).request(method, path, body);
    }
    const options = {
      agent: this.agent,
      host: this.opts.host,
      port: this.opts.port,
      method,
      path,
      headers: body === undefined ? {} : { "Content-Type": "text/plain;charset=UTF-8" },
    };
    return new Promise((resolve, reject) => {
      const req = http.request(options, (res) => {
        const chunks = [];
        res.on("data", (chunk) => chunks.push(chunk));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          if (res.statusCode !== 200) reject(new Error(`${method} ${res.statusCode}: ${text}`));
          else resolve(text);
        });
      });
      req.on("error", reject);
      req.end(body);
    });
  }

  async connect() {
    const open = await this.request("GET");
    if (open[0] !== "0") throw new Error(`unexpected handshake ${open}`);
    this.sid = JSON.parse(open.slice(1)).sid;
    const connected = new Promise((resolve, reject) => {
      this.onConnected = resolve;
      this.onError = reject;
    });
    this.write(CONNECT);
    this.poll();
    await connected;
    return this;
  }

  poll() {
    this.request("GET").then(
      (payload) => {
        for (const packet of payload.split(RECORD_SEPARATOR)) this.receive(packet);
        if (!this.stopped) this.poll();
      },
      (err) => {
        if (!this.stopped) this.onError(err);
      },
    );
  }

  receive(packet) {
    if (packet[0] === "4") {
      if (packet[1] === "0") this.onConnected(this);
      else if (this.onPacket) this.onPacket(packet);
    } else if (packet[0] === "2") {
      this.write(TEXT_PONG);
    } else if (packet[0] === "1") {
      this.stopped = true;
    }
  }

  write(packet) {
    this.outbox.push(packet);
    if (!this.posting) this.flush();
  }

  flush() {
    const body = this.outbox.join(RECORD_SEPARATOR);
    this.outbox = [];
    this.posting = true;
    this.request("POST", body).then(
      () => {
        this.posting = false;
        if (this.outbox.length > 0) this.flush();
      },
      (err) => {
        if (!this.stopped) this.onError(err);
      },
    );
  }
}

async function scenarioPolling(opts) {
  const agent =
    opts.client === "ws" ? new http.Agent({ keepAlive: true, maxSockets: Infinity }) : null;
  const clients = [];
  const failures = [];
  await Promise.all(
    Array.from({ length: opts.clients }, async () => {
      const client = new PollingClient(opts, agent);
      try {
        clients.push(await client.connect());
      } catch (err) {
        failures.push(String(err.message || err));
      }
    }),
  );
  if (failures.length > 0) fail(`${failures.length} polling clients failed: ${failures[0]}`);
  const win = new Window();
  const suffix = `["echo",${JSON.stringify(opts.payload)}]`;
  let running = true;
  let errors = 0;
  for (const client of clients) {
    let nextId = 0;
    let sentAt = 0;
    const sendOne = () => {
      sentAt = now();
      client.write(`42${nextId++}${suffix}`);
    };
    client.onError = () => {
      errors += 1;
    };
    client.onPacket = (packet) => {
      if (packet[1] !== "3") return;
      if (win.active) {
        win.count += 1;
        win.latencies.push(now() - sentAt);
      }
      if (running) sendOne();
    };
    sendOne();
  }
  await win.run(opts);
  running = false;
  for (const client of clients) client.stopped = true;
  if (errors > 0) fail(`${errors} polling requests failed`);
  finish({
    clients: clients.length,
    acks: win.count,
    seconds: round3(win.seconds),
    acks_per_s: Math.round(win.count / win.seconds),
    ...latencyStats(win.latencies),
    loadgen_cpu: round3(win.cpu),
  });
}

// ---------------------------------------------------------------- main

const SCENARIOS = {
  connect: scenarioConnect,
  echo: scenarioEcho,
  fanout: scenarioFanout,
  bin64k: scenarioBin64k,
  polling: scenarioPolling,
};

function main() {
  const { scenario, opts } = parseArgs(process.argv.slice(2));
  const run = SCENARIOS[scenario];
  if (!run) fail(`unknown scenario ${scenario}; one of ${Object.keys(SCENARIOS).join(", ")}`);
  const limit = opts.timeout + opts.hold;
  setTimeout(() => fail(`${scenario} did not finish within ${limit} s`), limit * 1000).unref();
  run(opts).catch((err) => fail(String((err && err.stack) || err)));
}

main();
