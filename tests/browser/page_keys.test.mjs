// The chat page with ACCESS=keys, as a person with an access key meets it: Chromium through
// playwright-core against the functions under `cargo lambda watch` with the limits (and the
// keys) on dynalite, and the stand-in. Started by tests/tests/page_in_browser.rs with PAGE_URL,
// STUB_URL, KEY_A and KEY_B (two keys the table holds).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { collectErrors, launchChromium } from "./chromium.mjs";

const { PAGE_URL, STUB_URL, KEY_A, KEY_B } = process.env;
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==", "base64");
let browser, page;
const scriptErrors = [];
const keyPrompts = []; // the keys to paste when the page asks, in order
const requests = []; // every chat-stream request: method, address, Authorization

before(async () => {
  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
  // A refused key is an HTTP error Chromium logs; anything else is a script error.
  collectErrors(page, scriptErrors, /401/);
  page.on("dialog", (dialog) => {
    const key = keyPrompts.shift();
    (key === undefined ? dialog.dismiss() : dialog.accept(key)).catch(() => {});
  });
  page.on("request", (request) => {
    if (!request.url().includes("chat-stream")) return;
    requests.push(request.allHeaders().then((headers) => ({ method: request.method(), url: request.url(), authorization: headers.authorization })));
  });
  await page.goto(PAGE_URL);
});

after(async () => {
  await browser?.close();
  assert.deepEqual(scriptErrors, [], "no script errors");
});

const upstream = async () => (await fetch(`${STUB_URL}/__stub/requests`)).json();
const cancels = async () => (await fetch(`${STUB_URL}/__stub/cancels`)).json();
const answerText = () => page.evaluate(() => [...document.querySelectorAll(".turn.bot")].at(-1)?.dataset.raw || "");
const idle = () => page.waitForFunction(() => !document.querySelector("#send").disabled, null, { timeout: 30000 });
const titles = () => page.locator("#chat-list .open-chat").evaluateAll((buttons) => buttons.map((b) => b.textContent));

/** Sends `text` (with a picture when `picture`), and waits until its answer's turn is there. */
async function send(text, { picture = false } = {}) {
  if (picture) {
    await page.setInputFiles("#files", [{ name: "dot.png", mimeType: "image/png", buffer: PNG }]);
    await page.waitForFunction(() => document.querySelectorAll("#attachments li").length === 1);
  }
  const answers = await page.locator(".turn.bot").count();
  await page.fill("#prompt", text);
  await page.keyboard.press("Enter");
  await page.waitForFunction((n) => document.querySelectorAll(".turn.bot").length > n, answers, { timeout: 5000 });
}

test("the key is asked for once and kept; a posted question and its Stop carry it in a header", async () => {
  keyPrompts.push(KEY_A);
  await send("/stub echo hello with a key");
  await idle();
  assert.equal(await answerText(), "hello with a key");
  assert.equal(keyPrompts.length, 0, "the page asked for the key");
  assert.equal(await page.locator("#forget-key").isVisible(), true, "it can be forgotten");
  await send("/stub echo seen", { picture: true });
  await idle();
  assert.equal(await answerText(), "seen", "asked again without a prompt: the key was kept");
  const [plain, posted] = (await Promise.all(requests)).slice(-2);
  assert.equal(new URL(plain.url).searchParams.get("key"), KEY_A, "EventSource can only send it in the address");
  assert.equal(posted.method, "POST");
  assert.ok(!posted.url.includes(KEY_A), `the key is in the posted question's address: ${posted.url}`);
  assert.equal(posted.authorization, `Bearer ${KEY_A}`);

  const prompt = "/stub deltas=400 delay_ms=30 stopped-with-a-key";
  const cancelled = (await cancels()).length;
  await send(prompt, { picture: true });
  await page.waitForFunction(() => ([...document.querySelectorAll(".turn.bot")].at(-1)?.dataset.raw || "").length > 10, null, { timeout: 15000 });
  const asked = (await upstream()).findLastIndex((r) => r.input === prompt) + 1;
  await page.click("#stop");
  await idle();
  assert.deepEqual((await cancels()).slice(cancelled), ["resp_" + asked.toString(16).padStart(48, "0")], "stopped upstream with the key");
  const stop = (await Promise.all(requests)).at(-1);
  assert.ok(stop.url.endsWith("/stop") && stop.authorization === `Bearer ${KEY_A}`, JSON.stringify(stop));
});

test("another key sees none of the first key's chats; a key the service does not know is forgotten with its shelf", async () => {
  const shelves = () => page.evaluate(() => Object.keys(localStorage).filter((key) => key.startsWith("chat-shelf:")).length);
  assert.deepEqual(await titles(), ["/stub echo hello with a key"], "one chat so far");
  // Forgotten: the screen holds nothing of that key's at once (the next person's).
  await page.click("#forget-key");
  assert.equal(await page.locator("#log .turn").count(), 0, "the transcript is gone");
  assert.equal(await page.locator("#chat-list .open-chat").count(), 0, "and the list");

  keyPrompts.push("chat_not_a_key_this_service_knows");
  await send("/stub echo refused");
  await idle();
  await page.waitForTimeout(1500); // past the owner check: the reason stays on screen
  assert.match(await page.locator(".turn.error").last().innerText(), /access key/i);
  assert.equal(await page.evaluate(() => localStorage.getItem("chat-access-key")), null, "the refused key is forgotten");
  assert.equal(await shelves(), 1, "and its shelf with it: the first key's alone is left");

  keyPrompts.push(KEY_B);
  await send("/stub echo another key here");
  await idle();
  assert.equal(await answerText(), "another key here");
  assert.deepEqual(await titles(), ["/stub echo another key here"], "none of the first key's chats");
  assert.equal(await shelves(), 2);

  // The first key again: its chat is back, and the question goes on in it.
  await page.click("#forget-key");
  keyPrompts.push(KEY_A);
  await send("/stub echo back again");
  await idle();
  assert.deepEqual(await titles(), ["/stub echo hello with a key"]);
  const shown = await page.locator("#log .turn.bot").evaluateAll((turns) => turns.map((t) => t.dataset.raw));
  assert.equal(shown[0], "hello with a key", "the chat it was in");
  assert.equal(shown.at(-1), "back again");
});
