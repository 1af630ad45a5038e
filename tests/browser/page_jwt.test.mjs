// The chat page with ACCESS=jwt, as a signed-in user meets it: Debian's Chromium driven by
// playwright-core, against the functions under `cargo lambda watch` (JWT_AUDIENCE=chat-test,
// ALLOWED_ORIGINS holding http://127.0.0.1:EMBED_PORT and the page's own origin), the stand-in upstream and a local OpenID
// provider. Streams are plain (RESUMABLE_STREAMS=false: no resume tokens). Started by the Rust
// harness, which passes PAGE_URL, PROXY_PAGE_URL (the page through a proxy that resets the first
// answer streamed through it after 10 deltas), STUB_URL, OIDC_URL (the provider:
// POST /mint {claims} answers {token}), EMBED_PORT (a free port: this file serves an embedding app
// on it) and ARTIFACTS in the environment.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { createServer } from "node:http";
import { launchChromium } from "./chromium.mjs";

const { PAGE_URL, PROXY_PAGE_URL, STUB_URL, OIDC_URL, ARTIFACTS } = process.env;
const EMBED_PORT = Number(process.env.EMBED_PORT);
const PAGE_ORIGIN = new URL(PAGE_URL).origin;
const SIGN_IN_FIRST = "Sign in first: this chat is for the signed-in users of its app.";
const SIGN_IN_AGAIN = "Your sign-in has expired or is not valid; sign in again.";
let browser, context, embed;
const scriptErrors = [];
const streams = []; // every chat-stream URL any page asked for
let appToken = null; // what the embedding app hands the page at `/` (`/silent` hands nothing)

// The embedding app: frames the page and answers its token requests, from the page's origin and
// its own frame only, with a token of this test's, addressed to the page's origin only.
function appHtml(token) {
  const js = (value) => JSON.stringify(value).replace(/</g, "\\u003c");
  const src = PAGE_URL.replace(/&/g, "&amp;").replace(/"/g, "&quot;");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>App</title><script>
window.__requests = [];
const token = ${js(token)};
addEventListener("message", (event) => {
  const frame = document.querySelector("iframe");
  if (event.origin !== ${js(PAGE_ORIGIN)} || !frame || event.source !== frame.contentWindow) return;
  window.__requests.push(event.data);
  if (token && event.data && event.data.type === "chat:token-request") {
    event.source.postMessage({ type: "chat:token", token }, ${js(PAGE_ORIGIN)});
  }
});
</script></head><body><iframe src="${src}" title="Chat" style="width:390px;height:700px;border:0"></iframe></body></html>`;
}

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  embed = createServer((request, response) => {
    const path = new URL(request.url, "http://embed").pathname;
    if (path !== "/" && path !== "/silent") return response.writeHead(path === "/favicon.ico" ? 204 : 404).end();
    response.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
    response.end(appHtml(path === "/" ? appToken : null));
  });
  await new Promise((resolve, reject) => { embed.once("error", reject); embed.listen(EMBED_PORT, "127.0.0.1", resolve); });
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 390, height: 844 } });
});

after(async () => {
  await browser?.close();
  embed?.closeAllConnections();
  await new Promise((resolve) => (embed ? embed.close(resolve) : resolve()));
});

/** A fresh tab (a token lives in one page's memory only); `consoleErrors` takes its console's errors. */
async function open(url, consoleErrors = scriptErrors) {
  const page = await context.newPage();
  page.on("pageerror", (error) => scriptErrors.push(String(error)));
  page.on("console", (message) => { if (message.type() === "error") consoleErrors.push(message.text()); });
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (!["127.0.0.1", "localhost"].includes(url.hostname)) scriptErrors.push(`external request: ${url}`);
    if (url.pathname.includes("chat-stream")) streams.push(url);
  });
  await page.goto(url, { timeout: 15000 });
  return page;
}

const upstream = async () => (await fetch(`${STUB_URL}/__stub/requests`, { signal: AbortSignal.timeout(10000) })).json();
const now = () => Math.floor(Date.now() / 1000);
async function mint(claims) {
  const response = await fetch(`${OIDC_URL}/mint`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ claims: { sub: "page-user", ...claims } }),
    signal: AbortSignal.timeout(10000),
  });
  assert.equal(response.status, 200, `mint: ${await response.clone().text()}`);
  return (await response.json()).token;
}

const idle = (on) => on.waitForFunction(() => !document.querySelector("#send").disabled, null, { timeout: 30000 });
const answerText = (on) => on.evaluate(() => [...document.querySelectorAll(".turn.bot")].at(-1)?.dataset.raw || "");
const errorCount = (on) => on.locator(".turn.error").count();
const lastError = (on) => on.locator(".turn.error span").last().innerText();

/** Types `text` and presses Enter; `on` is a page or a frame. */
async function submit(text, on) {
  await on.fill("#prompt", text);
  await on.locator("#prompt").press("Enter");
}

/** Asks, and waits for the whole answer `expected`. */
async function askFor(text, expected, on) {
  await submit(text, on);
  await on.waitForFunction((want) => ([...document.querySelectorAll(".turn.bot")].at(-1)?.dataset.raw || "") === want, expected, { timeout: 30000 })
    .catch(() => {}); // the assertion below says what came instead
  await idle(on);
  assert.equal(await answerText(on), expected);
  assert.equal(await errorCount(on), 0, `error shown: ${await on.locator(".turn.error").allInnerTexts()}`);
}

/** Sends with no usable token: the page says to sign in and asks nothing. */
async function expectSignInFirst(on) {
  const [before, streamsBefore, errors] = [(await upstream()).length, streams.length, await errorCount(on)];
  await submit("/stub echo not without a token", on);
  await on.waitForFunction((n) => document.querySelectorAll(".turn.error").length > n, errors, { timeout: 5000 });
  assert.equal(await lastError(on), SIGN_IN_FIRST);
  assert.equal(await on.inputValue("#prompt"), "/stub echo not without a token", "the message is kept");
  await on.waitForTimeout(1000);
  assert.equal(streams.length, streamsBefore, "the page sent nothing");
  assert.equal((await upstream()).length, before, "nothing went upstream");
}

/** The embedding app's page and the chat page in its frame, once the chat form is there. */
async function openApp(url) {
  const app = await open(url);
  const frame = await (await app.waitForSelector("iframe", { timeout: 10000 })).contentFrame();
  await frame.waitForSelector("#prompt", { timeout: 15000 });
  return { app, frame };
}

test("with no token the page says to sign in first and sends nothing", async () => {
  const page = await open(PAGE_URL);
  try {
    await expectSignInFirst(page);
  } finally {
    await page.close();
  }
});

test("a token in the fragment leaves the address at once, lives in memory only, and is sent", async () => {
  const token = await mint({});
  const page = await open(`${PAGE_URL}#access_token=${token}`);
  try {
    assert.ok(!page.url().includes("access_token") && !page.url().includes("#"), `address: ${page.url()}`);
    assert.equal(await page.evaluate(() => location.hash), "");
    assert.equal(await page.evaluate(() => location.href), PAGE_URL);
    const [before, streamsBefore] = [(await upstream()).length, streams.length];
    await askFor("/stub deltas=5 delay_ms=10", "w0 w1 w2 w3 w4", page);
    const sent = streams.slice(streamsBefore);
    assert.equal(sent.length, 1, `the page made ${sent.length} requests`);
    assert.equal(sent[0].searchParams.get("access_token"), token, "the stream carried the token");
    const kept = await page.evaluate(() => JSON.stringify({ ...localStorage }) + JSON.stringify({ ...sessionStorage }) + document.cookie);
    assert.ok(!kept.includes(token), "the token is in no storage and no cookie");
    assert.equal((await upstream()).length - before, 1, "exactly one request upstream");
  } finally {
    await page.close();
  }
});

test("an expired token is refused: sign in again, nothing upstream, and the token is forgotten", async () => {
  const token = await mint({ iat: now() - 7200, exp: now() - 3600 });
  const page = await open(`${PAGE_URL}#access_token=${token}`);
  try {
    assert.equal(await page.evaluate(() => location.hash), "");
    const [before, streamsBefore] = [(await upstream()).length, streams.length];
    await submit("/stub echo with an expired token", page);
    await page.waitForSelector(".turn.error", { timeout: 15000 });
    await idle(page);
    assert.equal(await lastError(page), SIGN_IN_AGAIN);
    await page.waitForTimeout(3500); // longer than EventSource's reconnect delay
    assert.equal(streams.length - streamsBefore, 1, "one request, no reconnect");
    assert.equal(streams.at(-1).searchParams.get("access_token"), token);
    assert.equal((await upstream()).length, before, "nothing went upstream");
    await page.screenshot({ path: `${ARTIFACTS}/page-jwt-expired.png`, fullPage: true });
    await expectSignInFirst(page);
  } finally {
    await page.close();
  }
});

test("an embedding app hands the token over by postMessage; a token from any other window is ignored", async () => {
  appToken = await mint({});
  const { app, frame } = await openApp(`http://127.0.0.1:${EMBED_PORT}/`);
  try {
    await frame.waitForFunction((want) => token === want, appToken, { timeout: 10000 });
    assert.deepEqual(await app.evaluate(() => window.__requests), [{ type: "chat:token-request" }]);
    const [before, streamsBefore] = [(await upstream()).length, streams.length];
    await askFor("/stub deltas=3 delay_ms=10", "w0 w1 w2", frame);
    assert.equal(streams.length - streamsBefore, 1);
    assert.equal(streams.at(-1).searchParams.get("access_token"), appToken);
    assert.equal((await upstream()).length - before, 1, "exactly one request upstream");
    // The app may hand over a fresh token of the same user any time (a refresh): the newest
    // wins, and the chat goes on (another user's token could not follow this user's answer).
    const fresh = await mint({ exp: Math.floor(Date.now() / 1000) + 1200 });
    assert.notEqual(fresh, appToken);
    await app.evaluate(([token, origin]) => document.querySelector("iframe").contentWindow.postMessage({ type: "chat:token", token }, origin), [fresh, PAGE_ORIGIN]);
    await frame.waitForFunction((want) => token === want, fresh, { timeout: 10000 });
    await askFor("/stub deltas=2 delay_ms=10", "w0 w1", frame);
    assert.equal(streams.at(-1).searchParams.get("access_token"), fresh);
  } finally {
    await app.close();
  }

  // An app that hands nothing over: a token posted by the frame itself, or by a window of the
  // app's (allowed) origin that is not the frame's parent, is ignored.
  const silent = await openApp(`http://127.0.0.1:${EMBED_PORT}/silent`);
  try {
    await silent.frame.evaluate(() => window.postMessage({ type: "chat:token", token: "x" }, "*"));
    const sibling = await (await silent.app.evaluateHandle(() => document.body.appendChild(document.createElement("iframe")))).asElement().contentFrame();
    assert.equal(await sibling.evaluate(() => origin), `http://127.0.0.1:${EMBED_PORT}`);
    await sibling.evaluate(() => parent.frames[0].postMessage({ type: "chat:token", token: "y" }, "*"));
    await silent.frame.waitForTimeout(500);
    assert.equal(await silent.frame.evaluate(() => token), null);
    await expectSignInFirst(silent.frame);
    // Sending with no token asked the app again.
    const requests = await silent.app.evaluate(() => window.__requests);
    assert.deepEqual(requests, [{ type: "chat:token-request" }, { type: "chat:token-request" }]);
  } finally {
    await silent.app.close();
  }
});

test("each signed-in user sees only their own kept chats on a shared browser", async () => {
  const chatTitles = (on) => on.locator("#chat-list .open-chat").evaluateAll((buttons) => buttons.map((b) => b.textContent));
  const [alice, bob] = [await mint({ sub: "alice" }), await mint({ sub: "bob" })];
  let page = await open(`${PAGE_URL}#access_token=${alice}`);
  try {
    await askFor("/stub echo alice private words", "alice private words", page);
    assert.deepEqual(await chatTitles(page), ["/stub echo alice private words"]);
  } finally {
    await page.close();
  }
  // The next user on the same browser (the same storage): none of it on screen, nor in their shelf.
  page = await open(`${PAGE_URL}#access_token=${bob}`);
  try {
    assert.deepEqual(await chatTitles(page), [], "another user's chats are listed");
    assert.equal(await page.locator("#log .turn").count(), 0, "another user's transcript is shown");
    await askFor("/stub echo bob words", "bob words", page);
    assert.deepEqual(await chatTitles(page), ["/stub echo bob words"]);
    const shelves = await page.evaluate(() => Object.keys(localStorage).filter((k) => k.startsWith("chat-shelf:")).map((k) => localStorage.getItem(k)));
    // A shelf per user (the earlier tests' user has one too).
    const [alices, bobs] = ["alice private words", "bob words"].map((words) => shelves.filter((shelf) => shelf.includes(words)));
    assert.deepEqual([alices.length, bobs.length], [1, 1], "each user's words on one shelf");
    assert.notEqual(alices[0], bobs[0], "not the same shelf");
  } finally {
    await page.close();
  }
  // Back to the first user: their chat, where they left it.
  page = await open(`${PAGE_URL}#access_token=${alice}`);
  try {
    assert.deepEqual(await chatTitles(page), ["/stub echo alice private words"]);
    assert.equal(await answerText(page), "alice private words", "the chat they were in");
  } finally {
    await page.close();
  }
});

test("an answer without resume tokens cut by the network is shown as lost, never asked again by a reconnect", async () => {
  const resets = [];
  const page = await open(`${PROXY_PAGE_URL}#access_token=${await mint({ sub: "plain-streams" })}`, resets);
  try {
    const prompt = "/stub deltas=100 delay_ms=20 plain-and-cut";
    await submit(prompt, page);
    await page.waitForFunction(() => document.querySelectorAll(".turn.error").length > 0, null, { timeout: 15000 });
    await page.waitForTimeout(4000); // past EventSource's own reconnect delay
    assert.equal(await lastError(page), "The connection was lost before the answer finished.");
    assert.equal((await upstream()).filter((r) => r.input === prompt).length, 1, "the model was asked once");
    const shown = await answerText(page);
    assert.ok(shown.startsWith("w0 w1") && !shown.includes("w99"), `what arrived before the cut stays: ${shown}`);
    for (const text of resets) if (!/ERR_CONNECTION_RESET|ERR_INCOMPLETE_CHUNKED_ENCODING/.test(text)) scriptErrors.push(text);
  } finally {
    await page.close();
  }
});

test("a question with a picture (a POST read with fetch) carries the token in a header, never in the address", async () => {
  const token = await mint({ sub: "picture-sender" });
  const page = await open(`${PAGE_URL}#access_token=${token}`);
  const posted = [];
  page.on("request", (request) => { if (request.method() === "POST" && request.url().includes("chat-stream")) posted.push(request); });
  try {
    const png = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==", "base64");
    await page.setInputFiles("#files", [{ name: "dot.png", mimeType: "image/png", buffer: png }]);
    await page.waitForFunction(() => document.querySelectorAll("#attachments li").length === 1);
    await askFor("/stub echo seen with a token", "seen with a token", page);
    assert.equal(posted.length, 1, "one question");
    assert.ok(!posted[0].url().includes(token), `the token is in the address: ${posted[0].url()}`);
    assert.equal((await posted[0].allHeaders()).authorization, `Bearer ${token}`);
    assert.equal((await upstream()).at(-1).images, 1, "the picture reached the model");
  } finally {
    await page.close();
  }
});

test("a site outside ALLOWED_ORIGINS cannot frame the page", async () => {
  const refusals = [];
  const app = await open(`http://localhost:${EMBED_PORT}/`, refusals);
  try {
    const frame = await (await app.waitForSelector("iframe", { timeout: 10000 })).contentFrame();
    await app.waitForTimeout(3000);
    assert.equal(await frame.locator("#prompt").count(), 0, "the chat form loaded in a foreign frame");
    assert.deepEqual(await app.evaluate(() => window.__requests), [], "the page asked a foreign app for a token");
    assert.ok(refusals.some((text) => text.includes("frame-ancestors")), `no frame-ancestors refusal: ${refusals}`);
    for (const text of refusals) if (!text.includes("frame-ancestors")) scriptErrors.push(text);
  } finally {
    await app.close();
  }
});

test("no script errors and no external requests", () => {
  assert.deepEqual(scriptErrors, []);
});
