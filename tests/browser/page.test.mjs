// The chat page as a person uses it: Debian's Chromium driven by playwright-core, against the
// functions under `cargo lambda watch` and the stand-in upstream. Started by
// tests/tests/page_in_browser.rs, which passes PAGE_URL, STREAM_URL, STUB_URL, EXPECTED_TRICKY,
// EXPECTED_REASONING (the tricky reasoning summary as a browser gets it; the functions run a
// reasoning model, so `summary=` asks the stand-in for one), PROXY_PAGE_URL (the page through a proxy that resets the first answer streamed through it),
// DROP_PROMPT and EXPECTED_DROP (what to ask through it, and the whole answer) and ARTIFACTS in
// the environment.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { launchChromium } from "./chromium.mjs";

const { PAGE_URL, STREAM_URL, STUB_URL, ARTIFACTS, PROXY_PAGE_URL, DROP_PROMPT, EXPECTED_DROP } = process.env;
const EXPECTED_TRICKY = JSON.parse(process.env.EXPECTED_TRICKY);
const EXPECTED_REASONING = JSON.parse(process.env.EXPECTED_REASONING);
let browser, context, page;
const scriptErrors = [];
const dialogs = [];

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 390, height: 844 } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: new URL(PAGE_URL).origin });
  page = await context.newPage();
  page.on("pageerror", (error) => scriptErrors.push(String(error)));
  page.on("dialog", (dialog) => { dialogs.push(`${dialog.type()}: ${dialog.message()}`); dialog.dismiss().catch(() => {}); });
  page.on("console", (message) => { if (message.type() === "error") scriptErrors.push(message.text()); });
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (!["127.0.0.1", "localhost"].includes(url.hostname)) scriptErrors.push(`external request: ${url}`);
  });
  await page.goto(PAGE_URL);
});

after(async () => { await browser?.close(); });

const upstream = async () => (await fetch(`${STUB_URL}/__stub/requests`)).json();
const cancels = async () => (await fetch(`${STUB_URL}/__stub/cancels`)).json();
const lastAnswer = (on = page) => on.locator(".turn.bot").last();
const idle = (on = page) => on.waitForFunction(() => !document.querySelector("#send").disabled, null, { timeout: 30000 });
const answerText = (on = page) => on.evaluate(() => [...document.querySelectorAll(".turn.bot")].at(-1)?.dataset.raw || "");

/** Sends `text`: its answer's turn is there at once (a short answer may already have ended). */
async function ask(text, on = page) {
  const answers = await on.locator(".turn.bot").count();
  await on.fill("#prompt", text);
  await on.keyboard.press("Enter");
  await on.waitForFunction((before) => document.querySelectorAll(".turn.bot").length > before, answers, { timeout: 5000 });
}

test("the answer grows while it streams, then equals what upstream sent", async () => {
  await ask("/stub deltas=30 delay_ms=60");
  const lengths = [];
  while (await page.locator("#send").isDisabled()) {
    lengths.push(((await lastAnswer().getAttribute("data-raw")) || "").length);
    await page.waitForTimeout(120);
  }
  const growing = new Set(lengths.filter((n) => n > 0));
  assert.ok(growing.size >= 4, `the answer did not grow while streaming: ${lengths}`);
  const expected = Array.from({ length: 30 }, (_, i) => `w${i}`).join(" ");
  assert.equal(await lastAnswer().getAttribute("data-raw"), expected);
  assert.equal((await lastAnswer().locator(".text").innerText()).trim(), expected);
  await page.screenshot({ path: `${ARTIFACTS}/page-light.png`, fullPage: true });
});

test("line breaks and SSE look-alikes arrive exactly", async () => {
  await ask("/stub text=tricky delay_ms=5");
  await idle();
  assert.equal(await lastAnswer().getAttribute("data-raw"), EXPECTED_TRICKY.join(""));
});

test("a plain EventSource client (the tutorial's) still gets exactly the text", async () => {
  const datas = await page.evaluate((url) => new Promise((resolve, reject) => {
    const source = new EventSource(`${url}?message=${encodeURIComponent("/stub text=tricky")}`);
    const seen = [];
    source.addEventListener("start", () => seen.push("<start>"));
    source.onmessage = (event) => seen.push(event.data);
    source.addEventListener("end", () => { source.close(); resolve(seen); });
    setTimeout(() => { source.close(); reject(new Error(`no end: ${JSON.stringify(seen)}`)); }, 15000);
  }), STREAM_URL);
  assert.deepEqual(datas, ["<start>", ...EXPECTED_TRICKY]);
});

test("markdown is rendered, code keeps its whitespace, and no HTML from the model runs", async () => {
  const text = "Some **bold** and `code`.\n```\n  indented <b>x</b>\n    more\n```\n<img src=x onerror=\"window.__xss=1\"><script>window.__xss=2</script>[link](javascript:window.__xss=3)";
  await ask(`/stub delay_ms=1 echo ${text}`);
  await idle();
  const answer = lastAnswer();
  assert.deepEqual(await answer.locator("strong").allInnerTexts(), ["bold"]);
  assert.equal(await answer.locator("pre code").textContent(), "  indented <b>x</b>\n    more");
  assert.equal(await answer.locator("img, script, a").count(), 0);
  assert.match(await answer.innerText(), /<img src=x onerror=/);
  assert.equal(await page.evaluate(() => window.__xss), undefined);
});

test("a reasoning summary: Thinking… at once, then shown as it grows, collapsed at the text, only ever text", async () => {
  const dialogsBefore = dialogs.length;
  const sample = () => page.evaluate(() => {
    const turn = [...document.querySelectorAll(".turn.bot")].at(-1);
    const block = turn?.querySelector("details.reasoning");
    return {
      busy: document.querySelector("#send").disabled,
      raw: turn?.dataset.raw || "",
      status: turn?.querySelector(".status")?.textContent ?? null,
      label: block ? block.querySelector("summary").textContent : null,
      open: block ? block.open : null,
      reasoning: block ? block.dataset.raw : null,
    };
  });
  await ask("/stub summary=tricky delay_ms=40 deltas=5");
  const samples = [];
  for (const deadline = Date.now() + 30000; Date.now() < deadline;) {
    const now = await sample();
    samples.push(now);
    if (!now.busy) break;
    await page.waitForTimeout(15);
  }
  const seen = JSON.stringify(samples);
  assert.equal(samples.at(-1).busy, false, `the answer did not finish: ${seen}`);
  // Before any text: "Thinking…", first as the status, then as the open block's label.
  const first = samples[0];
  assert.ok(!first.raw && (first.status === "Thinking…" || first.label === "Thinking…"), `no Thinking… at once: ${seen}`);
  const thinking = samples.filter((s) => !s.raw && s.label !== null);
  assert.ok(thinking.length > 0, `no reasoning block before the text: ${seen}`);
  assert.ok(thinking.every((s) => s.open && s.label === "Thinking…" && s.status === null), `the block was not open, or the status stayed: ${seen}`);
  assert.ok(new Set(thinking.map((s) => s.reasoning.length)).size >= 2, `the summary did not grow while streaming: ${seen}`);
  // Once the text has begun, the block is closed, and the status is gone.
  const answering = samples.filter((s) => s.raw);
  assert.ok(answering.length > 0 && answering.every((s) => s.open === false && s.status === null), `not closed at the text: ${seen}`);
  const answer = lastAnswer();
  const block = answer.locator("details.reasoning");
  assert.equal(await block.count(), 1);
  assert.equal(await block.getAttribute("data-raw"), EXPECTED_REASONING);
  assert.equal(await answer.getAttribute("data-raw"), "w0 w1 w2 w3 w4");
  assert.equal((await answer.locator(".text").innerText()).trim(), "w0 w1 w2 w3 w4");
  assert.equal(await answer.locator(".status").count(), 0);
  assert.equal(await block.locator("summary").innerText(), "Thought process");
  assert.equal(await block.evaluate((node) => node.open), false);
  // Collapsed, not gone: its summary opens it, and it is Markdown made only of text.
  await block.locator("summary").click();
  await page.waitForFunction(() => [...document.querySelectorAll(".turn.bot")].at(-1).querySelector("details.reasoning").open, null, { timeout: 5000 });
  const shown = await block.innerText();
  assert.ok(shown.includes("<script>alert(2)</script>"), `the HTML is not shown as text: ${shown}`);
  assert.ok(shown.includes("<img src=x onerror=alert(1)>"), `the HTML is not shown as text: ${shown}`);
  assert.deepEqual(await block.locator("strong").allInnerTexts(), ["Reading the question"]);
  assert.equal(await answer.locator("img, script").count(), 0);
  await page.waitForTimeout(200); // time for an onerror, had an img been made
  assert.deepEqual(dialogs.slice(dialogsBefore), [], "a dialog fired");
  await page.screenshot({ path: `${ARTIFACTS}/page-reasoning.png`, fullPage: true });
});

test("an upstream failure is shown in words, with no second request, and the box takes the next prompt", async () => {
  for (const fault of ["/stub error=nested after=2 echo abcd", "/stub status=500"]) {
    const before = (await upstream()).length;
    const errorsBefore = await page.locator(".turn.error").count();
    await ask(fault);
    await idle();
    assert.equal(await page.locator(".turn.error").count(), errorsBefore + 1, `${fault}: no error shown`);
    const error = page.locator(".turn.error").last();
    assert.match(await error.innerText(), /\w+ \w+ \w+/, `${fault}: no error in words`);
    await page.waitForTimeout(3500); // longer than EventSource's reconnect delay
    const after = await upstream();
    const attempts = fault.includes("status=500") ? 3 : 1; // 5xx is retried server-side, before any answer
    assert.equal(after.length - before, attempts, `${fault}: upstream saw ${after.length - before} requests`);
  }
  // A connection to OpenAI cut mid-answer is no failure in background mode: the function reads
  // the same answer again (no second create), and the page gets all of it.
  const [before, errors] = [(await upstream()).length, await page.locator(".turn.error").count()];
  await ask("/stub drop after=2 echo abcd");
  await idle();
  assert.equal(await answerText(), "abcd");
  assert.equal(await page.locator(".turn.error").count(), errors, "a cut upstream connection is no error");
  assert.equal((await upstream()).length - before, 1, "the answer was read again, not asked again");
  await page.screenshot({ path: `${ARTIFACTS}/page-error.png`, fullPage: true });
  await page.locator(".turn.error button").first().click();
  assert.equal(await page.locator(".turn.error").count(), 1, "dismiss removes one error");
  await ask("/stub echo next one");
  await idle();
  assert.equal(await lastAnswer().getAttribute("data-raw"), "next one");
});

test("after a failed answer the next message continues from the last one that finished; a lost conversation starts anew by itself", async () => {
  await page.click("#new-chat");
  await ask("/stub echo kept");
  await idle();
  const keptId = "resp_" + (await upstream()).length.toString(16).padStart(48, "0");
  await ask("/stub error=nested after=2 echo broken");
  await idle();
  const errors = await page.locator(".turn.error").count();
  await ask("/stub echo after the failure");
  await idle();
  let requests = await upstream();
  assert.equal(requests.at(-1).previous_response_id, keptId, "continues from the answer that finished");
  assert.equal(await answerText(), "after the failure");
  assert.equal(await page.locator(".turn.error").count(), errors, "the follow-up answered, no new error");
  // OpenAI no longer has the conversation: one refusal, then the next message starts a new one
  // by itself, with what is on screen kept.
  await fetch(`${STUB_URL}/__stub/forget`, { method: "POST" });
  await ask("/stub echo refused");
  await idle();
  assert.equal(await page.locator(".turn.error").count(), errors + 1, "previous_response_not_found is shown");
  await ask("/stub echo fresh start");
  await idle();
  requests = await upstream();
  assert.equal(requests.at(-1).previous_response_id, null, "a new conversation");
  assert.equal(await answerText(), "fresh start");
  assert.match(await page.locator("#log").innerText(), /after the failure/, "what was on screen stays");
});

test("follow-ups continue the conversation; new chat starts over", async () => {
  await ask("/stub echo first");
  await idle();
  await ask("/stub echo second");
  await idle();
  let requests = await upstream();
  assert.match(requests.at(-1).previous_response_id || "", /^resp_/);
  await page.click("#new-chat");
  assert.equal(await page.locator(".turn").count(), 0);
  await ask("/stub echo fresh");
  await idle();
  requests = await upstream();
  assert.equal(requests.at(-1).previous_response_id, null);
});

test("stop closes the stream and the upstream request", async () => {
  await ask("/stub deltas=400 delay_ms=40");
  await page.waitForFunction(() => (document.querySelector(".turn.bot:last-of-type")?.dataset.raw || "").length > 5);
  await page.click("#stop");
  await idle();
  await page.waitForTimeout(1000);
  const request = (await upstream()).findLast((r) => r.input === "/stub deltas=400 delay_ms=40");
  assert.ok(request.closed_ms !== null && !request.finished, `upstream kept going: ${JSON.stringify(request)}`);
});

test("a network drop mid-answer is resumed: the whole answer, one model call, no error", async () => {
  // A second tab on the page through the proxy; the proxy resets its first answer after 10 deltas.
  const proxied = await context.newPage();
  proxied.on("pageerror", (error) => scriptErrors.push(`proxied: ${error}`));
  // Chromium logs the reset it met; that one line is expected (it shows the cut reached the
  // browser as a reset), anything else is a script error.
  const consoleErrors = [];
  proxied.on("console", (message) => { if (message.type() === "error") consoleErrors.push(`${message.text()} @ ${message.location().url}`); });
  const streams = [];
  proxied.on("request", (request) => {
    const url = new URL(request.url());
    if (url.hostname !== "127.0.0.1") scriptErrors.push(`external request: ${url}`);
    if (url.pathname.startsWith("/lambda-url/chat-stream")) streams.push(request.allHeaders());
  });
  try {
    await proxied.goto(PROXY_PAGE_URL);
    const before = (await upstream()).length;
    await ask(DROP_PROMPT, proxied);
    await idle(proxied);
    assert.equal(await answerText(proxied), EXPECTED_DROP, "the page shows the whole answer");
    assert.equal(await proxied.locator(".turn.error").count(), 0, "no error shown");
    const headers = await Promise.all(streams);
    assert.equal(headers.length, 2, "one request, then one reconnect after the cut");
    assert.equal(headers[0]["last-event-id"], undefined);
    assert.ok(headers[1]["last-event-id"], `the reconnect carried Last-Event-ID: ${JSON.stringify(headers[1])}`);
    const after = await upstream();
    assert.equal(after.length - before, 1, "exactly one create");
    assert.equal(after.filter((r) => r.input === DROP_PROMPT).length, 1, "the model was asked once");
    assert.equal(consoleErrors.length, 1, `console errors: ${consoleErrors}`);
    assert.match(consoleErrors[0], /^Failed to load resource: net::ERR_CONNECTION_RESET @ http:\/\/127\.0\.0\.1:\d+\/lambda-url\/chat-stream\?/);
  } finally {
    await proxied.close();
  }
});

test("Stop cancels the answer upstream: the stand-in lists its id, the page is idle, the text stops", async () => {
  const prompt = "/stub deltas=400 delay_ms=30 stopped-by-button";
  const cancelled = (await cancels()).length;
  await ask(prompt);
  await page.waitForFunction(() => ([...document.querySelectorAll(".turn.bot")].at(-1)?.dataset.raw || "").length > 10, null, { timeout: 15000 });
  // The stand-in names the answer to its n-th request resp_<n in hex, 48 digits>.
  const asked = (await upstream()).findLastIndex((r) => r.input === prompt) + 1;
  const id = "resp_" + asked.toString(16).padStart(48, "0");
  assert.ok(asked > 0, "the question reached the stand-in");
  await page.click("#stop");
  await idle();
  assert.equal(await page.locator("#stop").isHidden(), true, "Stop is hidden");
  assert.equal(await page.locator("#send").isEnabled(), true, "Send is enabled");
  // The page waits for /stop before it calls itself idle: the cancel is recorded by now.
  assert.deepEqual((await cancels()).slice(cancelled), [id], "the stand-in cancelled that answer, once");
  const text = await answerText();
  const generated = (await upstream()).findLast((r) => r.input === prompt);
  await page.waitForTimeout(1000);
  assert.equal(await answerText(), text, "the text stopped growing");
  assert.ok(text.length > 10 && !text.includes("w399"), `stopped mid-answer: ${text.length} chars`);
  const later = (await upstream()).findLast((r) => r.input === prompt);
  assert.ok(!later.finished && later.deltas_sent === generated.deltas_sent && later.deltas_sent < 400, `upstream kept generating: ${JSON.stringify([generated, later])}`);
});

test("copy puts the answer's text on the clipboard", async () => {
  await ask("/stub echo copy **me**");
  await idle();
  await lastAnswer().locator("button", { hasText: "Copy" }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), "copy **me**");
});

test("Shift+Enter adds a line, Enter sends", async () => {
  await page.fill("#prompt", "");
  await page.locator("#prompt").type("/stub echo line");
  await page.keyboard.press("Shift+Enter");
  await page.locator("#prompt").type("break");
  assert.equal(await page.inputValue("#prompt"), "/stub echo line\nbreak");
  await page.keyboard.press("Enter");
  await idle();
  assert.equal(await lastAnswer().getAttribute("data-raw"), "line\nbreak");
});

test("fits a 390 px screen, in light and dark", async () => {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 390, `page is ${width}px wide`);
  await page.emulateMedia({ colorScheme: "dark" });
  await page.screenshot({ path: `${ARTIFACTS}/page-dark.png`, fullPage: true });
  await page.emulateMedia({ colorScheme: "light" });
});

test("a conversation, as in the README's screenshot", async () => {
  await page.click("#new-chat");
  await ask("What is AWS Lambda, in one paragraph?");
  await idle();
  await ask("/stub delay_ms=1 echo Here is **Markdown**:\n- a list item\n- `inline code`\n```\nfn main() {\n    println!(\"kept whitespace\");\n}\n```");
  await idle();
  // A sticky composer overlaps content in a full-page capture: grow the viewport instead.
  const height = await page.evaluate(() => document.documentElement.scrollHeight);
  await page.setViewportSize({ width: 390, height });
  await page.screenshot({ path: `${ARTIFACTS}/page.png` });
  await page.setViewportSize({ width: 390, height: 844 });
});

test("a limit refusal is shown in words, from exactly one request, with nothing sent upstream", async () => {
  // The functions run with limits on (RATE_LIMIT_PER_MINUTE=60, everyone here is 127.0.0.1):
  // use up this minute from outside the page, then ask from it.
  for (let i = 0; i < 80; i++) {
    const response = await fetch(`${STREAM_URL}?message=${encodeURIComponent("/stub echo x")}`);
    const body = await response.text();
    if (body.includes("caller_limit_reached")) break;
  }
  const before = (await upstream()).length;
  const errorsBefore = await page.locator(".turn.error").count();
  const streams = [];
  const note = (request) => { if (request.url().startsWith(STREAM_URL)) streams.push(request.url()); };
  page.on("request", note);
  await ask("one more question");
  await idle();
  await page.waitForTimeout(3500); // longer than EventSource's reconnect delay
  page.off("request", note);
  assert.equal(streams.length, 1, `the page made ${streams.length} requests`);
  assert.equal(await page.locator(".turn.error").count(), errorsBefore + 1, "no error shown");
  assert.match(await page.locator(".turn.error").last().innerText(), /limit of 60 requests per minute; try again in \d+ s/);
  assert.equal((await upstream()).length, before, "nothing went upstream");
  await page.screenshot({ path: `${ARTIFACTS}/page-limit.png`, fullPage: true });
});

test("no script errors, no dialogs and no external requests", () => {
  assert.deepEqual(scriptErrors, []);
  assert.deepEqual(dialogs, []);
});
