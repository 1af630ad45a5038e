// The chat page with the owner's tools on (web search, and an MCP server that asks first), as a
// person meets them: Debian's Chromium driven by playwright-core, against the functions under
// `cargo lambda watch` and the stand-in upstream. Started by tests/tests/page_in_browser.rs,
// which passes PAGE_URL, STUB_URL and ARTIFACTS in the environment.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { collectErrors, launchChromium } from "./chromium.mjs";

const { PAGE_URL, STUB_URL, ARTIFACTS } = process.env;
let browser, page;
const scriptErrors = [];

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
  collectErrors(page, scriptErrors);
  await page.goto(PAGE_URL);
});

after(async () => {
  await browser?.close();
  assert.deepEqual(scriptErrors, [], "no script errors");
});

const lastAnswer = () => page.locator(".turn.bot").last();
const idle = () => page.waitForFunction(() => !document.querySelector("#send").disabled, null, { timeout: 30000 });

/** A new answer's turn, once there (a short answer may already have ended). */
const newAnswer = (before) => page.waitForFunction((n) => document.querySelectorAll(".turn.bot").length > n, before, { timeout: 5000 });

async function ask(text) {
  const answers = await page.locator(".turn.bot").count();
  await page.fill("#prompt", text);
  await page.keyboard.press("Enter");
  await newAnswer(answers);
}

test("a searching answer says so while it searches, then lists its sources as safe links", async () => {
  await ask("/stub search=2 delay_ms=250 deltas=3");
  await page.waitForFunction(
    () => [...document.querySelectorAll(".turn.bot .status")].at(-1)?.textContent.startsWith("Searching the web"),
    null, { timeout: 10000 });
  await idle();
  assert.equal(await lastAnswer().getAttribute("data-raw"), "w0 w1 w2");
  const links = lastAnswer().locator(".sources a");
  assert.equal(await links.count(), 2, "each page once");
  assert.equal(await links.first().getAttribute("href"), "https://example.com/result-0");
  assert.equal(await links.first().getAttribute("rel"), "noopener noreferrer");
  assert.equal(await links.first().getAttribute("target"), "_blank");
  assert.equal(await links.first().innerText(), 'Result <0> & "more"', "a title is text, never markup");
  await page.screenshot({ path: `${ARTIFACTS}/page-sources.png`, fullPage: true });
});

test("an MCP call that asks first is a yes or no, and the answer goes on once answered", async () => {
  await ask("/stub approval=1");
  await idle();
  const box = page.locator(".approval").last();
  assert.match(await box.innerText(), /wants to use lookup on docs with \{"query":"item 0"\}/);
  assert.equal(await lastAnswer().locator(".tools").isVisible(), false, "nothing to copy");
  await page.screenshot({ path: `${ARTIFACTS}/page-approval.png`, fullPage: true });
  let answers = await page.locator(".turn.bot").count();
  await box.getByRole("button", { name: "Allow" }).click();
  await newAnswer(answers);
  await idle();
  assert.equal(await box.getByRole("button", { name: "Deny" }).isDisabled(), true, "answered once");
  assert.equal(await page.locator(".turn.me").last().innerText(), "Allowed lookup");
  assert.match(await lastAnswer().getAttribute("data-raw"), /^The MCP server: ran mcpr_\d+_0$/);
  const asked = await (await fetch(`${STUB_URL}/__stub/requests`)).json();
  const answered = asked.at(-1);
  assert.ok(answered.previous_response_id, "the approval went on from the answer that asked");

  // Deny: the model is told, and nothing is run.
  await ask("/stub approval=1");
  await idle();
  answers = await page.locator(".turn.bot").count();
  await page.locator(".approval").last().getByRole("button", { name: "Deny" }).click();
  await newAnswer(answers);
  await idle();
  assert.match(await lastAnswer().getAttribute("data-raw"), /^The MCP server: not allowed mcpr_\d+_0$/);
});
