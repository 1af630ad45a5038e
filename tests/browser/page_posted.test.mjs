// A question with attachments is a POST, read with `fetch` (EventSource is GET only); what
// EventSource gave for free must still hold: a network drop mid-answer is read again by the last
// event's id (no second model call), and Stop cancels the answer upstream. Chromium through
// playwright-core against the functions under `cargo lambda watch` and the stand-in. Started by
// tests/tests/page_in_browser.rs with PAGE_URL, POST_PROXY_PAGE_URL (the page through a proxy
// that resets the first answer streamed through it after 10 deltas), STUB_URL and ARTIFACTS.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { collectErrors, launchChromium } from "./chromium.mjs";

const { PAGE_URL, POST_PROXY_PAGE_URL, STUB_URL } = process.env;
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==", "base64");
let browser, context;
const scriptErrors = [];

before(async () => {
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 390, height: 844 } });
});

after(async () => {
  await browser?.close();
  assert.deepEqual(scriptErrors, [], "no script errors");
});

const upstream = async () => (await fetch(`${STUB_URL}/__stub/requests`)).json();
const cancels = async () => (await fetch(`${STUB_URL}/__stub/cancels`)).json();
const answerText = (page) => page.evaluate(() => [...document.querySelectorAll(".turn.bot")].at(-1)?.dataset.raw || "");
const idle = (page) => page.waitForFunction(() => !document.querySelector("#send").disabled, null, { timeout: 30000 });

/** A page at `url` whose chat-stream requests are listed as they go (method, Last-Event-ID). */
async function open(url, { resetExpected = false } = {}) {
  const page = await context.newPage();
  const streams = [];
  // A reset the proxy made is logged by Chromium as such; nothing else is expected.
  collectErrors(page, scriptErrors, resetExpected ? /ERR_CONNECTION_RESET|ERR_INCOMPLETE_CHUNKED_ENCODING/ : null);
  page.on("request", (request) => {
    const at = new URL(request.url());
    if (at.hostname !== "127.0.0.1") scriptErrors.push(`external request: ${at}`);
    if (at.pathname.startsWith("/lambda-url/chat-stream") && !at.pathname.endsWith("/stop")) {
      streams.push(request.allHeaders().then((headers) => ({ method: request.method(), lastEventId: headers["last-event-id"] })));
    }
  });
  await page.goto(url);
  return { page, streams };
}

/** Attaches a picture and sends `text` with it. */
async function askWithPicture(page, text) {
  await page.setInputFiles("#files", [{ name: "dot.png", mimeType: "image/png", buffer: PNG }]);
  await page.waitForFunction(() => document.querySelectorAll("#attachments li").length === 1);
  await page.fill("#prompt", text);
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelector("#send").disabled, null, { timeout: 5000 });
}

test("a posted answer cut by the network is read again by its last event's id: whole, one model call, no error", async () => {
  const { page, streams } = await open(POST_PROXY_PAGE_URL, { resetExpected: true });
  const prompt = "/stub deltas=100 delay_ms=20 posted-and-cut";
  const expected = Array.from({ length: 100 }, (_, i) => `w${i}`).join(" ");
  await askWithPicture(page, prompt);
  await idle(page);
  assert.equal(await answerText(page), expected, "the page shows the whole answer");
  assert.equal(await page.locator(".turn.error").count(), 0, "no error shown");
  const requests = await Promise.all(streams);
  assert.equal(requests.length, 2, `one POST, then one reconnect after the cut: ${JSON.stringify(requests)}`);
  assert.deepEqual([requests[0].method, requests[0].lastEventId], ["POST", undefined]);
  assert.equal(requests[1].method, "GET", "the rest is read again, not asked again");
  assert.ok(requests[1].lastEventId, `the reconnect carried Last-Event-ID: ${JSON.stringify(requests[1])}`);
  const asked = (await upstream()).filter((r) => r.input === prompt);
  assert.equal(asked.length, 1, "the model was asked once");
  assert.equal(asked[0].images, 1, "with its picture");
  await page.close();
});

test("Stop cancels a posted answer upstream, and its text stops", async () => {
  const { page } = await open(PAGE_URL);
  const prompt = "/stub deltas=400 delay_ms=30 posted-and-stopped";
  const cancelled = (await cancels()).length;
  await askWithPicture(page, prompt);
  await page.waitForFunction(() => ([...document.querySelectorAll(".turn.bot")].at(-1)?.dataset.raw || "").length > 10, null, { timeout: 15000 });
  // The stand-in names the answer to its n-th request resp_<n in hex, 48 digits>.
  const asked = (await upstream()).findLastIndex((r) => r.input === prompt) + 1;
  assert.ok(asked > 0, "the question reached the stand-in");
  await page.click("#stop");
  await idle(page);
  assert.deepEqual((await cancels()).slice(cancelled), ["resp_" + asked.toString(16).padStart(48, "0")], "that answer cancelled, once");
  const text = await answerText(page);
  await page.waitForTimeout(1000);
  assert.equal(await answerText(page), text, "the text stopped growing");
  assert.ok(text.length > 10 && !text.includes("w399"), `stopped mid-answer: ${text.length} chars`);
  await page.close();
});
