// The page's reader of a posted answer across invocations: Chromium against the release
// chat-stream behind the Runtime API stand-in with a short function timeout (each invocation
// hands the answer over before its deadline, closing its stream without `end`). The page, as the
// release index function rendered it for that URL, is served on the URL's own origin with its
// Content-Security-Policy. Started by tests/tests/long_answers.rs with STREAM_URL, PAGE_HTML
// (the rendered page's file), PAGE_CSP, QUESTION and EXPECTED_TEXT.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { launchChromium } from "./chromium.mjs";

const { STREAM_URL, PAGE_HTML, PAGE_CSP, QUESTION, EXPECTED_TEXT } = process.env;
const PNG = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==", "base64");
let browser;

before(async () => { browser = await launchChromium(); });
after(async () => { await browser?.close(); });

test("a posted answer handed over between invocations is read again until its end, and shown whole", async () => {
  const html = readFileSync(PAGE_HTML, "utf8");
  const page = await browser.newPage();
  const problems = [];
  const streams = [];
  page.on("pageerror", (error) => problems.push(String(error)));
  page.on("console", (message) => { if (message.type() === "error") problems.push(message.text()); });
  page.on("request", (request) => {
    if (new URL(request.url()).pathname !== "/") return;
    streams.push(request.allHeaders().then((headers) => ({ method: request.method(), lastEventId: headers["last-event-id"] })));
  });
  const pageUrl = new URL("page", STREAM_URL).href;
  const headers = { "content-security-policy": PAGE_CSP };
  await page.route(pageUrl, (route) => route.fulfill({ contentType: "text/html", headers, body: html }));
  // Only questions reach the function (one instance: an icon's request would take a turn).
  await page.route(new URL("favicon.ico", STREAM_URL).href, (route) => route.fulfill({ status: 204 }));
  await page.goto(pageUrl);
  await page.setInputFiles("#files", [{ name: "dot.png", mimeType: "image/png", buffer: PNG }]);
  await page.waitForFunction(() => document.querySelectorAll("#attachments li").length === 1);
  await page.fill("#prompt", QUESTION);
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelector("#send").disabled, null, { timeout: 5000 });
  await page.waitForFunction(() => !document.querySelector("#send").disabled, null, { timeout: 60000 });
  const shown = await page.evaluate(() => [...document.querySelectorAll(".turn.bot")].at(-1)?.dataset.raw || "");
  const errors = await page.locator(".turn.error").allInnerTexts();
  assert.deepEqual(errors, [], "no error shown");
  assert.equal(shown, EXPECTED_TEXT, "the whole answer");
  const sent = await Promise.all(streams);
  assert.ok(sent.length >= 3, `one POST and a read per hand-over: ${JSON.stringify(sent)}`);
  assert.deepEqual([sent[0].method, sent[0].lastEventId], ["POST", undefined]);
  for (const again of sent.slice(1)) {
    assert.equal(again.method, "GET", "the rest is read again, not asked again");
    assert.ok(again.lastEventId, `each read again carries Last-Event-ID: ${JSON.stringify(sent)}`);
  }
  assert.deepEqual(problems, [], "no script errors");
});
