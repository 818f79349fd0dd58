#!/usr/bin/env node
// Runs transcript scripts with the official socket.io-client, one job per stdin line:
//   {"id": 1, "url": "http://127.0.0.1:PORT", "steps": [...]}
// and answers one line per job: {"id": 1, "log": [...]} (or {"id": 1, "error": "..."}).
// One process serves every job of a test session, so node starts once.
//
// A step is {"c": client, "do": what, ...}; each client has its own connection (a
// Manager of its own) and one socket per namespace:
//   connect     {"ns": [names], "auth": {...}}  log each namespace's connect / connect_error
//   emit        {"ns", "ev", "args"}             no ack
//   call        {"ns", "ev", "args"}             log the ack's arguments (all of them)
//   wait        {"ns", "ev", "n"}                until n events of that name arrived there
//   wait_disconnect {"ns"}                       until the server disconnects the socket
//   disconnect  {}                               the client leaves every namespace
//   http        {"path"}                         GET it, log the status and the body
// Every event the server sends is logged as it arrives, [client, ns, "event", name, args];
// when the server asks for an ack, the client answers ["ack", name].
"use strict";

const http = require("http");
const readline = require("readline");
const { Manager } = require("socket.io-client");

const DEADLINE_MS = 5000;

function encode(value) {
  if (Buffer.isBuffer(value) || value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
    const bytes = value instanceof ArrayBuffer ? Buffer.from(value) : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    return { $bin: bytes.toString("base64") };
  }
  if (Array.isArray(value)) return value.map(encode);
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
    if (typeof value.$bin === "string" && Object.keys(value).length === 1) return Buffer.from(value.$bin, "base64");
    const out = {};
    for (const [key, item] of Object.entries(value)) out[key] = decode(item);
    return out;
  }
  return value;
}

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
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), DEADLINE_MS);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

async function runJob(job) {
  const log = [];
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
      clients[name] = { manager: new Manager(job.url, { reconnection: false, autoConnect: false }), sockets: {}, gone: {} };
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
        log.push([name, ns, "event", event, encode(args)]);
        const key = `${name} ${ns} ${event}`;
        counts[key] = (counts[key] || 0) + 1;
        check();
      });
      socket.on("disconnect", (reason) => {
        if (reason === "io server disconnect") {
          entry.gone[ns] = true;
          log.push([name, ns, "disconnect", reason]);
          check();
        }
      });
      entry.sockets[ns] = socket;
    }
    return entry.sockets[ns];
  }

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
          socket.once("connect", () => { log.push([name, ns, "connect"]); resolve(); });
          socket.once("connect_error", (err) => { log.push([name, ns, "connect_error", err.message, encode(err.data)]); resolve(); });
          socket.connect();
        }), `connect ${ns}`);
      }));
    } else if (step.do === "emit") {
      socketOf(name, step.ns || "/").emit(step.ev, ...decode(step.args || []));
    } else if (step.do === "call") {
      const ns = step.ns || "/";
      // Logged in the callback: an event in the same read as the ack stays after it.
      await within(new Promise((resolve, reject) => {
        socketOf(name, ns).timeout(DEADLINE_MS).emit(step.ev, ...decode(step.args || []), (err, ...args) => {
          if (err) return reject(err);
          log.push([name, ns, "ack", step.ev, encode(args)]);
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
      log.push([name, "http", status, body]);
    } else if (step.do === "disconnect") {
      for (const socket of Object.values(client(name).sockets)) socket.disconnect();
    } else {
      throw new Error(`unknown step ${JSON.stringify(step)}`);
    }
  }
  for (const entry of Object.values(clients)) {
    for (const socket of Object.values(entry.sockets)) socket.disconnect();
    entry.manager.engine && entry.manager.engine.close();
  }
  return log;
}

const lines = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
lines.on("line", (line) => {
  const job = JSON.parse(line);
  queue = queue.then(async () => {
    try {
      const log = await runJob(job);
      process.stdout.write(JSON.stringify({ id: job.id, log }) + "\n");
    } catch (error) {
      process.stdout.write(JSON.stringify({ id: job.id, error: String(error && error.stack || error) }) + "\n");
    }
  });
});
