// The official socket.io-client (4.8.1, its browser bundle) in Debian's chromium, over
// WebTransport to our server, the self-signed certificate given by serverCertificateHashes.
//
//   node webtransport.mjs CASES_JSON
//
// CASES_JSON: a list of {"port": N, "hex": CERT_SHA256_HEX, "transports": [...]}, run in
// turn in one browser. Prints one JSON line: per case, the transport the connection ends
// on, an ack's answer, and an event the server emitted back.
import { chromium } from "playwright-core";
import fs from "fs";
import path from "path";
import { fileURLToPath } from "url";

const here = path.dirname(fileURLToPath(import.meta.url));
const bundle = path.join(here, "..", "interop", "node_modules", "socket.io-client", "dist", "socket.io.min.js");
const cases = JSON.parse(process.argv[2]);
async function run({ port, hex, transports }) {
  const value = new Uint8Array(hex.match(/../g).map((h) => parseInt(h, 16)));
  const socket = io(`http://127.0.0.1:${port}`, {
    transports,
    transportOptions: { webtransport: { serverCertificateHashes: [{ algorithm: "sha-256", value }] } },
    reconnection: false,
  });
  const upgraded = new Promise((resolve) => {
    socket.io.engine.on("upgrade", resolve);
    setTimeout(resolve, 3000); // no upgrade (a transport alone, or a failed probe)
  });
  await new Promise((resolve, reject) => {
    socket.on("connect", resolve);
    socket.on("connect_error", reject);
  });
  if (transports.length > 1) await upgraded;
  const echoed = await socket.timeout(5000).emitWithAck("echo", "héllo", 42);
  const back = new Promise((resolve) => socket.on("back", resolve));
  socket.emit("emit-back", "back", { ok: true });
  const event = await back;
  const transport = socket.io.engine.transport.name;
  socket.disconnect();
  return { transport, echoed, event };
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
try {
  const results = [];
  for (const { port, hex, transports } of cases) {
    const page = await browser.newPage();
    // A page of the server's origin: a secure context (127.0.0.1), same origin as polling.
    await page.goto(`http://127.0.0.1:${port}/socket.io/?EIO=4&transport=polling`);
    await page.addScriptTag({ content: fs.readFileSync(bundle, "utf8") });
    results.push(await page.evaluate(run, { port, hex, transports }));
    await page.close();
  }
  console.log(JSON.stringify(results));
} finally {
  await browser.close();
}
