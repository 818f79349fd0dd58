// Shared by the browser tests: Debian's Chromium driven by playwright-core.
import { chromium } from "playwright-core";

// The flags this machine needs (no sandbox as root, no background traffic to the closed
// network); Playwright gives every launch a fresh, empty profile of its own.
const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: FLAGS,
  });
}

export async function newPage(browser) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
  const page = await context.newPage();
  page.setDefaultTimeout(15000);
  page.on("pageerror", (error) => console.error(`page error: ${error.message}`));
  return page;
}

// Open the chat as `name` and wait until it is connected; returns the page.
export async function openChat(browser, base, name) {
  const page = await newPage(browser);
  await page.goto(`${base}/?name=${encodeURIComponent(name)}`);
  await page.waitForSelector("#status.online");
  return page;
}

// Run `body(browser)`, always closing the browser; print "ok" or the error and set the exit code.
export async function run(body) {
  const browser = await launch();
  try {
    await body(browser);
    console.log("ok");
  } catch (error) {
    console.error(error && error.stack ? error.stack : String(error));
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}
