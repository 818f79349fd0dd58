// Two browsers in the chat: both join a room, alice writes, bob reads, alice sees "delivered".
// Usage: node chat.mjs BASE_URL ARTIFACTS_DIR
import { openChat, run } from "./browser.mjs";

const [base, artifacts] = process.argv.slice(2);

async function joinRoom(page, room) {
  await page.fill("#new-room", room);
  await page.click("#join-room");
  await page.waitForSelector(`#rooms li[data-room="${room}"].joined`);
  await page.waitForFunction((title) => document.querySelector("#title").textContent === title, `#${room}`);
}

await run(async (browser) => {
  const alice = await openChat(browser, base, "alice");
  const bob = await openChat(browser, base, "bob");
  await joinRoom(alice, "e2e");
  await joinRoom(bob, "e2e");

  // Who is online, on both pages.
  for (const page of [alice, bob]) {
    await page.locator("#users li", { hasText: "alice" }).waitFor();
    await page.locator("#users li", { hasText: "bob" }).waitFor();
  }

  // Typing indicator, then the message and its acknowledgement.
  await alice.fill("#text", "hello bob, this is alice");
  await bob.locator("#typing", { hasText: "alice is typing" }).waitFor();
  await alice.press("#text", "Enter");
  await bob.locator("#messages .message:not(.mine) .text", { hasText: "hello bob, this is alice" }).waitFor();
  const status = alice.locator("#messages .message.mine .status");
  await alice.locator("#messages .message.mine .status.delivered").waitFor();
  const shown = await status.textContent();
  if (shown !== "delivered") throw new Error(`alice's message shows ${JSON.stringify(shown)}`);
  await bob.waitForFunction(() => document.querySelector("#typing").textContent === "");

  // A private message from bob to alice.
  await bob.locator("#users li", { hasText: "alice" }).click();
  await bob.fill("#text", "psst, alice");
  await bob.press("#text", "Enter");
  await bob.locator("#messages .message.mine .status.delivered").waitFor();
  await alice.locator("#users li .badge").waitFor();
  await alice.locator("#users li", { hasText: "bob" }).click();
  await alice.locator("#messages .message .text", { hasText: "psst, alice" }).waitFor();
  await alice.locator("#rooms li[data-room='e2e']").click();
  await alice.locator("#messages .message.mine .status.delivered").waitFor();

  await alice.screenshot({ path: `${artifacts}/chat-alice.png` });
  await bob.locator("#rooms li[data-room='e2e']").click();
  await bob.screenshot({ path: `${artifacts}/chat-bob.png` });
});
