// The Admin UI served by our server: log in and find the chat's sockets in the list.
// Usage: node admin.mjs BASE_URL ARTIFACTS_DIR USERNAME PASSWORD
import { newPage, openChat, run } from "./browser.mjs";

const [base, artifacts, username, password] = process.argv.slice(2);

await run(async (browser) => {
  const carol = await openChat(browser, base, "carol");
  const dave = await openChat(browser, base, "dave");
  const ids = await Promise.all([carol, dave].map((page) => page.evaluate(() => window.chat.socket.id)));

  const admin = await newPage(browser);
  await admin.goto(`${base}/admin-ui/`);
  await admin.getByLabel("Server URL").fill(base);
  await admin.getByLabel("Username").fill(username);
  await admin.getByLabel("Password").fill(password);
  await admin.getByRole("button", { name: "Connect" }).click();
  await admin.locator(".v-dialog").waitFor({ state: "hidden" });

  await admin.goto(`${base}/admin-ui/#/sockets/`);
  for (const id of ids) {
    await admin.getByText(id, { exact: true }).waitFor();
  }
  // Transitions still running are finished at once for the picture.
  await admin.screenshot({ path: `${artifacts}/admin-sockets.png`, animations: "disabled" });

  await admin.goto(`${base}/admin-ui/#/`);
  // The servers card counts our server healthy once a round of server_stats has come.
  const servers = admin.locator(".v-card", { hasText: "Servers" });
  await servers.getByText("100.0 %").waitFor();
  await admin.screenshot({ path: `${artifacts}/admin-dashboard.png`, animations: "disabled" });
});
