// The Admin UI refuses wrong credentials with the reference's message.
// Usage: node wrong-password.mjs BASE_URL
import { newPage, run } from "./browser.mjs";

const [base] = process.argv.slice(2);

await run(async (browser) => {
  const admin = await newPage(browser);
  await admin.goto(`${base}/admin-ui/`);
  await admin.getByLabel("Server URL").fill(base);
  await admin.getByLabel("Username").fill("admin");
  await admin.getByLabel("Password").fill("not the password");
  await admin.getByRole("button", { name: "Connect" }).click();
  await admin.getByText("Invalid credentials").waitFor();
});
