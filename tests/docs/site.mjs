// The documentation site in headless Chromium: the home page, a guide and an API page
// render, the navigation leads from one to the other, and search finds a term.
// Usage: node site.mjs BASE_URL ARTIFACTS_DIR
import { newPage, run } from "../e2e/browser.mjs";

const [base, artifacts] = process.argv.slice(2);

function expect(condition, message) {
  if (!condition) throw new Error(message);
}

await run(async (browser) => {
  const page = await newPage(browser);
  await page.setViewportSize({ width: 1400, height: 900 }); // wide enough for the sidebar
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));

  // Home: the title, and the navigation with the sections of the site.
  await page.goto(`${base}/`);
  await page.locator("article h1", { hasText: "aiosio" }).waitFor();
  const sections = await page.locator("nav.md-nav--primary > ul > li > label, nav.md-nav--primary > ul > li > a").allTextContents();
  for (const name of ["Tutorial", "Guides", "API reference", "Explanation"]) {
    expect(sections.some((text) => text.includes(name)), `no "${name}" in the navigation: ${sections}`);
  }
  await page.screenshot({ path: `${artifacts}/docs-home.png` });

  // A guide, reached through the navigation: its included example is there, highlighted.
  await page.locator("nav.md-nav--primary a", { hasText: "The server" }).first().click();
  await page.waitForURL(/\/guide\/server\/$/);
  await page.locator("article h1", { hasText: "The server" }).waitFor();
  const code = await page.locator("article pre code").allTextContents();
  expect(code.some((text) => text.includes('io.of(re.compile(r"/team-\\w+"))')), "the example is missing");
  expect(await page.locator("article table").count() >= 2, "the guide's tables are missing");
  await page.screenshot({ path: `${artifacts}/docs-guide.png`, fullPage: false });

  // The API reference, through the guide's link: Server and its methods, documented.
  await page.locator("article a", { hasText: "API reference" }).last().click();
  await page.waitForURL(/\/reference\/server\/$/);
  const server = page.locator('[id="aiosio.Server"]');
  await server.waitFor();
  await page.locator('[id="aiosio.Server.emit_with_ack"]').waitFor();
  await page.locator('[id="aiosio.Socket.emit_with_ack"]').scrollIntoViewIfNeeded();
  const method = page.locator('div.doc-function:has(> [id="aiosio.Socket.emit_with_ack"])');
  const doc = await method.locator("> div.doc-contents").textContent();
  expect(doc.includes("AckTimeout"), `the docstring of Socket.emit_with_ack is not rendered: ${doc}`);
  await page.screenshot({ path: `${artifacts}/docs-api.png` });

  // Search, from the API page: a term the scaling guide is about, typed as a reader would.
  const search = page.locator("input.md-search__input");
  await search.click();
  await search.pressSequentially("haproxy", { delay: 20 });
  const hit = page.locator(".md-search-result__item a").first();
  await hit.waitFor();
  const target = await hit.getAttribute("href");
  expect(target.includes("guide/scaling"), `search led to ${target}`);
  await hit.click();
  await page.waitForURL(/\/guide\/scaling\//);
  await page.locator("article h1", { hasText: "Scaling out" }).waitFor();

  expect(errors.length === 0, `page errors: ${errors}`);
});
