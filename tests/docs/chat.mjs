// The tutorial's chat page (docs/examples/chat/static/index.html) with the official client:
// grace joins, ada sees it; grace writes in the lobby, ada reads it and grace sees the ack.
// Usage: node chat.mjs BASE_URL ARTIFACTS_DIR
import { newPage, run } from "../e2e/browser.mjs";

const [base, artifacts] = process.argv.slice(2);

async function open(browser, name) {
  const page = await newPage(browser);
  await page.goto(`${base}/?name=${name}`);
  // The page's `socket` (a global const of its script), once the server accepted it.
  await page.waitForFunction(() => typeof socket !== "undefined" && socket.connected);
  return page;
}

await run(async (browser) => {
  const ada = await open(browser, "ada");
  const grace = await open(browser, "grace");
  await ada.locator("#messages li", { hasText: "grace joined" }).waitFor();

  await grace.fill("#text", "hello from the tutorial");
  await grace.click("button");
  await ada.locator("#messages li", { hasText: "grace in #lobby: hello from the tutorial" }).waitFor();
  await grace.locator("#messages li", { hasText: "you in #lobby: hello from the tutorial (delivered)" }).waitFor();
  await grace.screenshot({ path: `${artifacts}/docs-tutorial-chat.png` });
});
