#!/usr/bin/env node
// Drives a Socket.IO server with the official socket.io-client and reports what it saw.
//
//   node sio_driver.js SCENARIO URL MODE [PARAMS_JSON]
//
// MODE is the transport set: "polling", "websocket" or "upgrade" (polling, then the
// upgrade to WebSocket). PARAMS_JSON is an object whose binary values are written
// {"$bin": "<base64>"}. Every observation is one JSON line on stdout:
// {"ev": "<kind>", "client": "<name>", ...}; binary values are encoded the same way.
// The last line is {"ev": "done"}; a failure prints {"ev": "fail", "message": ...} and
// exits with status 1. Some scenarios read commands from stdin, one JSON object a line.
//
// Scenarios are small async functions at the bottom of this file, built from Client,
// which logs every event a socket receives ("event" lines), answers the server's ack
// requests as params.answers says, and can wait for a given event. The "transcript"
// scenario is the exception: it runs scripts of steps for tests/compat (see runTranscript).
"use strict";

const http = require("http");
const { io, Manager } = require("socket.io-client");
const { Transport } = require("engine.io-client");

const [scenarioName, baseUrl, mode, rawParams] = process.argv.slice(2);

// -- encoding ------------------------------------------------------------------------

function isBinary(value) {
  return Buffer.isBuffer(value) || value instanceof ArrayBuffer || ArrayBuffer.isView(value);
}

function encode(value) {
  if (isBinary(value)) {
    const bytes = value instanceof ArrayBuffer ? Buffer.from(value) : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return { $bin: bytes.toString("base64") };
  }
  if (Array.isArray(value)) return value.map(encode);
  if (value instanceof Error) return { $error: value.message, data: encode(value.data) };
  if (value && typeof value === "object") {
    const out = {};
    for (const [key, item] of Object.entries(value)) out[key] = encode(item);
    return out;
  }
  return value === undefined ? null : value;
}

function decode(value) {
  if (Array.isArray(value)) return value.map(decode);
  if (value && typeof value === "object") {
    if (typeof value.$bin === "string" && Object.keys(value).length === 1) {
      return Buffer.from(value.$bin, "base64");
    }
    const out = {};
    for (const [key, item] of Object.entries(value)) out[key] = decode(item);
    return out;
  }
  return value;
}

const params = decode(JSON.parse(rawParams || "{}"));

function log(ev, fields = {}) {
  process.stdout.write(JSON.stringify({ ev, ...encode(fields) }) + "\n");
}

function fail(error) {
  log("fail", { message: String((error && error.stack) || error) });
  process.exit(1);
}

process.on("unhandledRejection", fail);
process.on("uncaughtException", fail);
const driverDeadline = setTimeout(
  () => fail(new Error(`driver timeout in ${scenarioName}`)),
  params.deadline || 15000,
).unref();

// -- transport tweaks ----------------------------------------------------------------

const TRANSPORTS = {
  polling: { transports: ["polling"] },
  websocket: { transports: ["websocket"] },
  upgrade: { transports: ["polling", "websocket"], upgrade: true },
};
if (!TRANSPORTS[mode]) fail(new Error(`unknown mode ${mode}`));

// Tests of heartbeat failures make a client deaf to the server's pings (so it neither
// answers them nor resets its own ping timer).
const deaf = new WeakSet();
const originalOnPacket = Transport.prototype.onPacket;
Transport.prototype.onPacket = function (packet) {
  if (packet.type === "ping" && deaf.has(this.socket)) return;
  return originalOnPacket.call(this, packet);
};

// -- stdin commands ------------------------------------------------------------------

// Read only by the scenarios that take commands: an open stdin keeps Node running.
const commands = [];
const commandWaiters = [];
let stdinBuffer = "";
let reading = false;

function readCommands() {
  reading = true;
  process.stdin.setEncoding("utf8");
  process.stdin.on("data", (chunk) => {
    stdinBuffer += chunk;
    let index;
    while ((index = stdinBuffer.indexOf("\n")) >= 0) {
      const line = stdinBuffer.slice(0, index).trim();
      stdinBuffer = stdinBuffer.slice(index + 1);
      if (!line) continue;
      const command = decode(JSON.parse(line));
      const waiter = commandWaiters.shift();
      if (waiter) waiter(command);
      else commands.push(command);
    }
  });
}

function nextCommand() {
  if (!reading) readCommands();
  if (commands.length) return Promise.resolve(commands.shift());
  return new Promise((resolve) => commandWaiters.push(resolve));
}

// -- clients -------------------------------------------------------------------------

const clients = [];

class Client {
  // options.manager: open the socket on that Manager (several namespaces, one connection).
  constructor(name, nsp = "/", options = {}) {
    this.name = name;
    this.received = [];
    this.waiters = [];
    const { manager, ...rest } = options;
    this.socket = manager
      ? manager.socket(nsp, rest)
      : io(baseUrl + nsp, { ...TRANSPORTS[mode], forceNew: true, reconnection: false, ...rest });
    this.socket.on("connect", () =>
      log("connect", { client: name, id: this.socket.id, sid: this.socket.io.engine.id }),
    );
    this.socket.on("connect_error", (err) =>
      log("connect_error", { client: name, message: err.message, data: err.data }),
    );
    this.socket.on("disconnect", (reason) => log("disconnect", { client: name, reason }));
    this.socket.onAny((event, ...args) => this.onEvent(event, args));
    clients.push(this);
  }

  onEvent(event, args) {
    let ack = null;
    if (args.length && typeof args[args.length - 1] === "function") ack = args.pop();
    log("event", { client: this.name, event, args, ack: ack !== null });
    this.received.push({ event, args });
    const answers = (params.clientAnswers || {})[this.name] || params.answers || {};
    if (ack && Object.prototype.hasOwnProperty.call(answers, event)) {
      const answer = answers[event];
      ack(...(answer === "echo" ? args : answer));
    }
    this.waiters = this.waiters.filter((waiter) => !waiter(event, args));
  }

  /** Resolve with the args of the next `event` not waited for yet (or already received). */
  next(event) {
    const index = this.received.findIndex((item) => item.event === event && !item.taken);
    if (index >= 0) {
      this.received[index].taken = true;
      return Promise.resolve(this.received[index].args);
    }
    return new Promise((resolve) => {
      this.waiters.push((name, args) => {
        if (name !== event) return false;
        this.received[this.received.length - 1].taken = true;
        resolve(args);
        return true;
      });
    });
  }

  connected() {
    return new Promise((resolve, reject) => {
      if (this.socket.connected) return resolve(this);
      this.socket.once("connect", () => resolve(this));
      this.socket.once("connect_error", reject);
    });
  }

  disconnected() {
    return new Promise((resolve) => {
      if (!this.socket.connected && !this.socket.active) return resolve(null);
      this.socket.once("disconnect", resolve);
    });
  }

  /** Emit with an ack; resolve with every argument of the answer, or reject on timeout. */
  call(event, args = [], timeout = 3000) {
    return new Promise((resolve, reject) => {
      this.socket.timeout(timeout).emit(event, ...args, (err, ...answer) => {
        if (err) reject(err);
        else resolve(answer);
      });
    });
  }

  /** call() and log the answer as an "ack" line. */
  async logCall(event, args = [], timeout) {
    const answer = await this.call(event, args, timeout);
    log("ack", { client: this.name, event, answer });
    return answer;
  }

  get engine() {
    return this.socket.io.engine;
  }

  /** In upgrade mode, wait until this client's engine is on WebSocket. */
  async upgraded() {
    const engine = this.engine;
    if (mode !== "upgrade" || !engine || engine.readyState !== "open") return;
    if (engine.transport.name !== "websocket") {
      await new Promise((resolve) => engine.once("upgrade", resolve));
    }
  }
}

async function connect(name, nsp = "/", options = {}) {
  const client = new Client(name, nsp, options);
  await client.connected();
  return client;
}

async function finish() {
  for (const client of clients) {
    if (client.socket.connected) {
      await client.upgraded();
      log("transport", { client: client.name, name: client.engine.transport.name });
    }
  }
  for (const client of clients) client.socket.disconnect();
  log("done");
  // Exit once the clients' last requests (their DISCONNECT and close) are done, so that
  // the server sees a clean goodbye rather than a cut connection.
  if (reading) process.stdin.destroy();
  process.exitCode = 0;
  setTimeout(() => process.exit(0), 2000).unref();
}

// One way for a connection to end (see the disconnect scenario).
async function closeCase(how, name, nsp, join) {
  const client = await connect(name, nsp, { auth: { tag: name } });
  if (join && how !== "server_close_early") await client.logCall("join", [join]);
  const gone = client.disconnected();
  const engine = client.engine;
  switch (how) {
    case "client":
      client.socket.disconnect();
      break;
    case "engine_close":
      engine.close();
      break;
    case "server":
    case "server_close":
      client.socket.emit("disconnect-me", how === "server_close");
      break;
    case "server_close_early": // at once: in upgrade mode, while the client upgrades
      client.socket.emit("disconnect-me", true);
      break;
    case "deaf": // the server's ping timeout: never answer pings, never time out here
      deaf.add(engine);
      engine._pingTimeout = 60000;
      engine._resetPingTimeout();
      break;
    case "impatient": // the client's ping timeout: no ping comes, and it waits briefly
      deaf.add(engine);
      engine._pingTimeout = 50;
      engine._resetPingTimeout();
      break;
    case "bad_packet": // an unknown Socket.IO packet type
      engine.write("9");
      break;
    case "bad_json":
      engine.write("2[oops");
      break;
    case "double_connect": // a second CONNECT to a namespace already joined
      engine.write(nsp === "/" ? "0" : `0${nsp},`);
      break;
    case "foreign_event": // an EVENT to a namespace not joined
      engine.write('2/not-joined,["x"]');
      break;
    case "wait": // the server ends it (the test tells the server when)
      log("ready", { client: name, id: client.socket.id });
      break;
    default:
      throw new Error(`unknown disconnect case ${how}`);
  }
  await gone;
}

// -- transcripts ---------------------------------------------------------------------
//
// A transcript script is a list of steps {"c": client, "do": what, ...}; each client has
// its own connection (a Manager of its own) and one socket per namespace:
//   connect     {"ns": [names], "auth": {...}}  log each namespace's connect / connect_error
//   emit        {"ns", "ev", "args"}             no ack
//   call        {"ns", "ev", "args"}             log the ack's arguments (all of them)
//   wait        {"ns", "ev", "n"}                until n events of that name arrived there
//   wait_disconnect {"ns"}                       until the server disconnects the socket
//   disconnect  {}                               the client leaves every namespace
//   http        {"path"}                         GET it, log the status and the body
// Every event the server sends is logged as it arrives, [client, ns, "event", name, args];
// when the server asks for an ack, the client answers ["ack", name].

// A hang guard, not a measure: a step that is merely slow (a loaded machine, a server
// under tracemalloc) must not fail the test; a step that never ends must.
const STEP_DEADLINE_MS = 30000;

// A GET without keep-alive (agent: false): the connection closes with the answer, so no
// idle connection is left open when the server under test stops.
function get(url) {
  return new Promise((resolve, reject) => {
    http.get(url, { agent: false }, (response) => {
      const chunks = [];
      response.on("data", (chunk) => chunks.push(chunk));
      response.on("end", () => resolve([response.statusCode, Buffer.concat(chunks).toString()]));
    }).on("error", reject);
  });
}

function within(promise, what) {
  let timer;
  const limit = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), STEP_DEADLINE_MS);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

/** Run one job's steps; return its log (binary values as they came, encoded by log()). */
async function runTranscript(job) {
  const entries = [];
  const clients = {};
  const counts = {};
  const waiters = [];
  const check = () => {
    for (const waiter of [...waiters]) {
      if (waiter.ready()) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  };
  const until = (ready, what) =>
    within(new Promise((resolve) => { waiters.push({ ready, resolve }); check(); }), what);

  function client(name) {
    if (!clients[name]) {
      const options = { ...TRANSPORTS[mode], reconnection: false, autoConnect: false };
      clients[name] = { manager: new Manager(job.url, options), sockets: {}, gone: {} };
    }
    return clients[name];
  }

  function socketOf(name, ns) {
    const entry = client(name);
    if (!entry.sockets[ns]) {
      const socket = entry.manager.socket(ns, {});
      socket.onAny((event, ...args) => {
        const last = args[args.length - 1];
        if (typeof last === "function") {
          args.pop();
          last("ack", event);
        }
        entries.push([name, ns, "event", event, args]);
        const key = `${name} ${ns} ${event}`;
        counts[key] = (counts[key] || 0) + 1;
        check();
      });
      socket.on("disconnect", (reason) => {
        if (reason === "io server disconnect") {
          entry.gone[ns] = true;
          entries.push([name, ns, "disconnect", reason]);
          check();
        }
      });
      entry.sockets[ns] = socket;
    }
    return entry.sockets[ns];
  }

  try {
    for (const step of job.steps) {
      const name = step.c || "a";
      if (step.do === "connect") {
        const names = Array.isArray(step.ns) ? step.ns : [step.ns || "/"];
        // Logged as they happen: an event the server sent before the CONNECT ack is
        // played by the client before its connect event.
        await Promise.all(names.map((ns) => {
          const socket = socketOf(name, ns);
          socket.auth = step.auth || undefined;
          return within(new Promise((resolve) => {
            socket.once("connect", () => { entries.push([name, ns, "connect"]); resolve(); });
            socket.once("connect_error", (err) => { entries.push([name, ns, "connect_error", err.message, err.data]); resolve(); });
            socket.connect();
          }), `connect ${ns}`);
        }));
      } else if (step.do === "emit") {
        socketOf(name, step.ns || "/").emit(step.ev, ...(step.args || []));
      } else if (step.do === "call") {
        const ns = step.ns || "/";
        // Logged in the callback: an event in the same read as the ack stays after it.
        await within(new Promise((resolve, reject) => {
          socketOf(name, ns).timeout(STEP_DEADLINE_MS).emit(step.ev, ...(step.args || []), (err, ...args) => {
            if (err) return reject(err);
            entries.push([name, ns, "ack", step.ev, args]);
            resolve();
          });
        }), `call ${step.ev}`);
      } else if (step.do === "wait") {
        const key = `${name} ${step.ns || "/"} ${step.ev}`;
        await until(() => (counts[key] || 0) >= (step.n || 1), `wait ${key}`);
      } else if (step.do === "wait_disconnect") {
        const entry = client(name);
        await until(() => entry.gone[step.ns || "/"], `wait_disconnect ${name}`);
      } else if (step.do === "http") {
        const [status, body] = await within(get(job.url + step.path), `http ${step.path}`);
        entries.push([name, "http", status, body]);
      } else if (step.do === "disconnect") {
        for (const socket of Object.values(client(name).sockets)) socket.disconnect();
      } else {
        throw new Error(`unknown step ${JSON.stringify(step)}`);
      }
    }
  } finally {
    // Even after a failed step: a client left connected would go on polling the server
    // the test is stopping (holding up its shutdown), and on into the next job.
    for (const entry of Object.values(clients)) {
      for (const socket of Object.values(entry.sockets)) socket.disconnect();
      entry.manager.engine && entry.manager.engine.close();
    }
  }
  return entries;
}

// -- scenarios -----------------------------------------------------------------------

const scenarios = {
  // Connect one client, ask the server who it is, then disconnect.
  async connect({ nsp = "/", auth, query, extraHeaders }) {
    const client = await connect("a", nsp, { auth, query, extraHeaders });
    await client.next("welcome");
    await client.logCall("info");
    await finish();
  },

  // A refused connection (connect_error), then optionally a retry with other credentials.
  async refused({ nsp = "/", auth, retryAuth }) {
    const client = new Client("a", nsp, { auth });
    await client.connected().catch(() => null);
    if (retryAuth) {
      client.socket.auth = retryAuth;
      client.socket.connect();
      await client.connected();
      await client.logCall("info");
    }
    await finish();
  },

  // Connection attempts side by side, each on a client of its own: [{name, nsp, auth}].
  async attempts({ attempts }) {
    await Promise.all(
      attempts.map(({ name, nsp, auth }) => new Client(name, nsp, { auth }).connected().catch(() => null)),
    );
    await finish();
  },

  // A list of calls: [{event, args, timeout}]; each answer (or error) is logged.
  async calls({ nsp = "/", auth, calls }) {
    const client = await connect("a", nsp, { auth });
    for (const { event, args = [], timeout } of calls) {
      try {
        await client.logCall(event, args, timeout);
      } catch (err) {
        log("ack_error", { client: "a", event, message: err.message });
      }
    }
    await finish();
  },

  // Like calls, without waiting for answers: fire-and-forget emits, then a fence call so
  // that the server has handled them all.
  async emits({ nsp = "/", auth, emits, outgoing = false }) {
    const client = await connect("a", nsp, { auth });
    if (outgoing) {
      client.socket.onAnyOutgoing((event, ...args) => {
        if (args.length && typeof args[args.length - 1] === "function") args.pop();
        log("outgoing", { client: "a", event, args });
      });
    }
    for (const { event, args = [] } of emits) client.socket.emit(event, ...args);
    await client.logCall("echo", ["fence"]);
    await finish();
  },

  // Clients join (and leave) rooms, then the sender triggers broadcasts; every client logs
  // what it receives, and each broadcast ends when every client got the "fence" that the
  // server sends after it. Then the calls run ([{client, event, args}], answers logged).
  // params: {nsp, nsps: {name: nsp}, members: {name: [rooms]}, leave: {name: room},
  //          sender, broadcasts: [spec], calls}; "@name" in a spec's to/except is the id
  //          of that client.
  async rooms({ nsp, nsps = {}, members, leave = {}, sender, broadcasts = [], calls = [] }) {
    const byName = {};
    for (const name of Object.keys(members)) {
      const where = nsps[name] || nsp;
      byName[name] = await connect(name, where, { auth: { tag: `${where}:${name}` } });
    }
    for (const [name, rooms] of Object.entries(members)) {
      if (rooms.length) await byName[name].logCall("join", [rooms]);
    }
    for (const [name, room] of Object.entries(leave)) await byName[name].logCall("leave", [room]);
    const ids = (rooms) =>
      rooms && rooms.map((room) => (room.startsWith("@") ? byName[room.slice(1)].socket.id : room));
    for (const spec of broadcasts) {
      const fences = Object.values(byName).map((client) => client.next("fence"));
      byName[sender].socket.emit("broadcast", { ...spec, to: ids(spec.to), except: ids(spec.except) });
      await Promise.all(fences);
      log("fenced", { label: spec.event });
    }
    for (const { client, event, args, timeout } of calls) {
      await byName[client].logCall(event, args, timeout);
    }
    await finish();
  },

  // One Manager (one Engine.IO connection) for several namespaces; then the first socket
  // is disconnected as params.how says, and the others are checked.
  // params: {nsps: [...], how: "none" | "client" | "server" | "server_close", tag}
  async multiplex({ nsps, how = "none", tag = "mux" }) {
    const manager = new Manager(baseUrl, { ...TRANSPORTS[mode], reconnection: false });
    const sockets = [];
    for (const [index, nsp] of nsps.entries()) {
      sockets.push(await connect(String(index), nsp, { manager, auth: { tag: `${tag}:${index}` } }));
    }
    log("engines", { ids: sockets.map((client) => client.engine.id) });
    const [first, ...rest] = sockets;
    const others = how === "none" ? sockets : rest;
    const gone = first.disconnected();
    if (how === "client") first.socket.disconnect();
    else if (how === "server" || how === "server_close") {
      first.socket.emit("disconnect-me", how === "server_close");
    }
    if (how !== "none") await gone;
    if (how === "server_close") {
      await Promise.all(others.map((client) => client.disconnected()));
    } else {
      for (const client of others) await client.logCall("echo", [client.name]);
    }
    log("engine", { state: manager.engine.readyState });
    await finish();
  },

  // Close cases, run side by side, each on a client of its own named by its tag; the
  // server records its side under the same tag.
  // params: {cases: [{how, tag}], nsp, join: [rooms]}
  async disconnect({ cases, nsp = "/", join }) {
    await Promise.all(cases.map(({ how, tag }) => closeCase(how, tag, nsp, join)));
    await finish();
  },

  // Interactive: the test sends commands on stdin and reads what happens.
  //   {"do": "connect", "client": name, "nsp": "/x", "auth": {...}}   -> "connect"/"connect_error"
  //   {"do": "emit", "client": name, "event": e, "args": [...]}
  //   {"do": "call", "client": name, "event": e, "args": [...]}        -> "ack"
  //   {"do": "wait", "client": name, "event": e}                       -> "waited"
  //   {"do": "disconnect", "client": name}
  //   {"do": "exit"}
  async puppet() {
    const byName = {};
    for (;;) {
      const command = await nextCommand();
      const client = byName[command.client];
      switch (command.do) {
        case "connect":
          byName[command.client] = new Client(command.client, command.nsp || "/", {
            auth: command.auth,
          });
          await byName[command.client].connected().catch(() => null);
          break;
        case "emit":
          client.socket.emit(command.event, ...(command.args || []));
          break;
        case "call":
          await client.logCall(command.event, command.args || [], command.timeout);
          break;
        case "wait":
          log("waited", { client: command.client, event: command.event, args: await client.next(command.event) });
          break;
        case "disconnect":
          client.socket.disconnect();
          break;
        case "exit":
          return finish();
        default:
          throw new Error(`unknown command ${JSON.stringify(command)}`);
      }
      log("ok", { do: command.do });
    }
  },

  // A server of transcript scripts for a whole test session (tests/compat/drivers.py), so
  // that node starts once: one job a stdin line, {"id", "url", "steps"} (the URL on the
  // command line is unused), answered by one line {"ev": "job", "id", "log"} or
  // {"ev": "job", "id", "error"}. Jobs run one at a time; the end of stdin ends the process.
  async transcript() {
    clearTimeout(driverDeadline); // a session long: each step has a deadline of its own
    for (;;) {
      const job = await nextCommand();
      try {
        log("job", { id: job.id, log: await runTranscript(job) });
      } catch (error) {
        log("job", { id: job.id, error: String((error && error.stack) || error) });
      }
    }
  },
};

const scenario = scenarios[scenarioName];
if (!scenario) fail(new Error(`unknown scenario ${scenarioName}`));
scenario(params).catch(fail);
