// The official socket.io-client (4.8.1, its browser bundle) in Debian's chromium, over
// WebTransport to our server, the self-signed certificate given by serverCertificateHashes.
//
//   node webtransport.mjs PORT CERT_SHA256_HEX TRANSPORTS_JSON
//
// Prints one JSON line: the transport the connection ends on, an ack's answer, and an
// event the server emitted back.
import { chromium } from "playwright-core";
import fs from "fs";
import path from "path";
import { fileURLToPath } from "url";

const here = path.dirname(fileURLToPath(import.meta.url));
const bundle = path.join(here, "..", "interop", "node_modules", "socket.io-client", "dist", "socket.io.min.js");
const [port, hex, transports] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
try {
  const page = await browser.newPage();
  // Any page of the server's origin: a secure context (127.0.0.1), same origin as polling.
  await page.goto(`http://127.0.0.1:${port}/socket.io/?EIO=4&transport=polling`);
  await page.addScriptTag({ content: fs.readFileSync(bundle, "utf8") });
  const result = await page.evaluate(
    async ({ port, hex, transports }) => {
      const value = new Uint8Array(hex.match(/../g).map((h) => parseInt(h, 16)));
      const socket = io(`http://127.0.0.1:${port}`, {
        transports: JSON.parse(transports),
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
      await upgraded;
      const echoed = await socket.timeout(5000).emitWithAck("echo", "héllo", 42);
      const back = new Promise((resolve) => socket.on("back", resolve));
      socket.emit("emit-back", "back", { ok: true });
      const event = await back;
      const transport = socket.io.engine.transport.name;
      socket.disconnect();
      return { transport, echoed, event };
    },
    { port, hex, transports },
  );
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
}
