// The page keeps your chats in this browser: a list by first question, newest first; reopening
// one shows its transcript and goes on from its last answer; rename, delete, New chat; a reload
// returns to the chat you were in and picks up an answer still running. Chromium through
// playwright-core against the functions under `cargo lambda watch` and the stand-in. Started by
// tests/tests/page_in_browser.rs with PAGE_URL, STUB_URL and ARTIFACTS.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { collectErrors, launchChromium } from "./chromium.mjs";

const { PAGE_URL, STUB_URL, ARTIFACTS } = process.env;
let browser, page;
const scriptErrors = [];
const dialogAnswers = [];

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  browser = await launchChromium();
  page = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
  collectErrors(page, scriptErrors);
  // A prompt or confirm is answered with what the test queued (or dismissed).
  page.on("dialog", (dialog) => {
    const answer = dialogAnswers.shift();
    const accepted = dialog.type() === "prompt" ? dialog.accept(String(answer)) : dialog.accept();
    (answer === undefined ? dialog.dismiss() : accepted).catch(() => {});
  });
  await page.goto(PAGE_URL);
});

after(async () => {
  await browser?.close();
  assert.deepEqual(scriptErrors, [], "no script errors");
});

const upstream = async () => (await fetch(`${STUB_URL}/__stub/requests`)).json();
const idle = () => page.waitForFunction(() => !document.querySelector("#send").disabled, null, { timeout: 30000 });
// Read as text: the list may be folded away.
const titles = () => page.locator("#chat-list .open-chat").evaluateAll((buttons) => buttons.map((b) => b.textContent));
const texts = (who) => page.locator(`#log .turn.${who}`).allInnerTexts();
const answers = () => page.evaluate(() => [...document.querySelectorAll("#log .turn.bot")].map((t) => t.dataset.raw));
/** The id the stand-in gave the answer to `question`. */
async function answerId(question) {
  const index = (await upstream()).findIndex((r) => r.input === question);
  return "resp_" + (index + 1).toString(16).padStart(48, "0");
}

/** Sends `text` and waits for its answer to end: its turn there and Send enabled again (a short
 * answer can come and go between two polls of Send's disabled state). */
async function ask(text) {
  const answers = await page.locator("#log .turn.bot").count();
  await page.fill("#prompt", text);
  await page.keyboard.press("Enter");
  await page.waitForFunction((before) => document.querySelectorAll("#log .turn.bot").length > before
    && !document.querySelector("#send").disabled, answers, { timeout: 30000 });
}

test("chats are listed newest first, reopened where they were, renamed and deleted", async () => {
  assert.equal(await page.locator("#chats").isVisible(), false, "no list before a first chat");
  await ask("/stub echo first answer");
  await ask("/stub echo follow");
  assert.deepEqual(await titles(), ["/stub echo first answer"]);
  assert.equal(await page.locator('#chat-list li[aria-current="true"]').count(), 1);
  await page.click("#new-chat");
  assert.equal(await page.locator("#log .turn").count(), 0);
  await ask("/stub echo other chat");
  assert.deepEqual(await titles(), ["/stub echo other chat", "/stub echo first answer"], "newest first");

  await page.locator("#chats > summary").click();
  await page.getByRole("button", { name: "Open chat: /stub echo first answer" }).click();
  assert.deepEqual(await answers(), ["first answer", "follow"], "the transcript as it was");
  await ask("/stub echo third");
  const third = (await upstream()).at(-1);
  assert.equal(third.previous_response_id, await answerId("/stub echo follow"), "goes on from its last answer");
  assert.deepEqual(await titles(), ["/stub echo first answer", "/stub echo other chat"], "the chat used last comes first");

  dialogAnswers.push("Weather talk");
  await page.getByRole("button", { name: "Rename chat: /stub echo first answer" }).click();
  assert.deepEqual(await titles(), ["Weather talk", "/stub echo other chat"]);
  dialogAnswers.push(true);
  await page.getByRole("button", { name: "Delete chat: /stub echo other chat" }).click();
  assert.deepEqual(await titles(), ["Weather talk"]);
  for (const name of ["Open chat: Weather talk", "Rename chat: Weather talk", "Delete chat: Weather talk"]) {
    assert.equal(await page.getByRole("button", { name }).count(), 1, `${name} has its accessible name`);
  }
  await page.screenshot({ path: `${ARTIFACTS}/page-chats.png`, fullPage: true });
});

test("a reload returns to the chat and picks up the answer still running, with one model call", async () => {
  const question = "/stub deltas=60 delay_ms=60";
  await page.fill("#prompt", question);
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => ([...document.querySelectorAll(".turn.bot")].at(-1)?.dataset.raw || "").split(" ").length >= 8,
    null, { timeout: 15000 });
  await page.waitForTimeout(400); // where it is was kept (every 300 ms while it streams)
  await page.reload();
  await page.waitForFunction(() => document.querySelector("#send").disabled, null, { timeout: 5000 }).catch(() => {});
  await idle();
  const expected = Array.from({ length: 60 }, (_, i) => `w${i}`).join(" ");
  assert.equal((await answers()).at(-1), expected, `the whole answer, picked up where it was (errors shown: ${await texts("error")})`);
  assert.deepEqual((await texts("me")).slice(-1), [question], "the chat it was in");
  assert.equal((await upstream()).filter((r) => r.input === question).length, 1, "one model call");
  // Kept once it ended: another reload shows it as it is, and asks nothing.
  await page.reload();
  assert.equal((await answers()).at(-1), expected);
  assert.equal(await page.locator("#send").isDisabled(), false);
});

test("pictures and PDFs are attached by button, paste and drop, shown, removable, and sent", async () => {
  await page.click("#new-chat");
  const png = Buffer.from("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==", "base64");
  const pdf = Buffer.from("%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n%%EOF");
  await page.setInputFiles("#files", [
    { name: "dot.png", mimeType: "image/png", buffer: png },
    { name: "page.pdf", mimeType: "application/pdf", buffer: pdf },
    { name: "notes.txt", mimeType: "text/plain", buffer: Buffer.from("hello") },
  ]);
  const chips = page.locator("#attachments li");
  await page.waitForFunction(() => document.querySelectorAll("#attachments li").length === 2);
  assert.match((await texts("error")).at(-1), /notes\.txt is not a picture/, "refused in the page first");
  assert.equal(await page.locator("#attachments img").count(), 1, "a thumbnail for the picture");
  await page.getByRole("button", { name: "Remove page.pdf" }).click();
  assert.equal(await chips.count(), 1);
  // Pasted into the message, and dropped on the form.
  await page.evaluate(async ([pngB64, pdfText]) => {
    const bytes = Uint8Array.from(atob(pngB64), (c) => c.charCodeAt(0));
    const pasted = new DataTransfer();
    pasted.items.add(new File([bytes], "pasted.png", { type: "image/png" }));
    document.querySelector("#prompt").dispatchEvent(new ClipboardEvent("paste", { clipboardData: pasted, bubbles: true, cancelable: true }));
    const dropped = new DataTransfer();
    dropped.items.add(new File([pdfText], "dropped.pdf", { type: "application/pdf" }));
    document.querySelector("#chat-form").dispatchEvent(new DragEvent("drop", { dataTransfer: dropped, bubbles: true, cancelable: true }));
  }, [png.toString("base64"), pdf.toString()]);
  await page.waitForFunction(() => document.querySelectorAll("#attachments li").length === 3);
  for (const name of ["Attach pictures or PDFs", "Remove dot.png", "Remove pasted.png", "Remove dropped.pdf"]) {
    assert.equal(await page.getByRole("button", { name }).count(), 1, `${name} has its accessible name`);
  }
  await page.screenshot({ path: `${ARTIFACTS}/page-attaching.png`, fullPage: true });
  await ask("/stub echo seen it");
  assert.equal((await answers()).at(-1), "seen it");
  assert.equal(await page.locator("#attachments").isVisible(), false, "sent, and cleared");
  const sent = (await upstream()).at(-1);
  assert.deepEqual([sent.images, sent.files], [2, 1], "two pictures and a PDF reached the model");
  const turn = page.locator("#log .turn.me").last();
  assert.equal(await turn.locator("img").count(), 2, "the question shows its pictures");
  assert.match(await turn.innerText(), /dropped\.pdf/);
  await page.screenshot({ path: `${ARTIFACTS}/page-attached.png`, fullPage: true });
  // Kept as thumbnails: a reload shows them again.
  await page.reload();
  assert.equal(await page.locator("#log .turn.me").last().locator("img").count(), 2);
});

test("the kept chats are bounded, 50 chats and about 2 MB, the oldest dropped first", async () => {
  // 60 chats of about 45 KB each, as an older visit may have left them: more than either bound.
  await page.evaluate(() => {
    const name = Object.keys(localStorage).find((key) => key.startsWith("chat-shelf:"));
    const shelf = JSON.parse(localStorage.getItem(name));
    const long = "x".repeat(45000);
    for (let n = 0; n < 60; n++) {
      shelf.chats.push({ id: `old-${n}`, title: `old ${n}`, updated: 1000 + n, previousResponseId: null, running: null,
        turns: [{ who: "me", text: `old question ${n}`, files: [] }, { who: "bot", text: long, reasoning: "", sources: [] }] });
    }
    localStorage.setItem(name, JSON.stringify(shelf));
  });
  await page.reload();
  await page.click("#new-chat");
  await ask("/stub echo newest of all");
  const kept = await page.evaluate(() => {
    const name = Object.keys(localStorage).find((key) => key.startsWith("chat-shelf:"));
    return { bytes: localStorage.getItem(name).length, chats: JSON.parse(localStorage.getItem(name)).chats.map((c) => c.title) };
  });
  assert.ok(kept.bytes <= 2000000, `${kept.bytes} bytes kept`);
  assert.ok(kept.chats.length <= 50, `${kept.chats.length} chats kept`);
  assert.equal(kept.chats[0], "/stub echo newest of all", "the chat in use is kept, first");
  const old = kept.chats.filter((title) => title.startsWith("old ")).map((title) => Number(title.slice(4)));
  assert.ok(old.length >= 30, `the newer old chats are kept: ${old}`);
  assert.deepEqual(old, Array.from({ length: old.length }, (_, i) => 59 - i), "newest first, the oldest dropped");
  assert.deepEqual(await titles(), kept.chats, "the list shows what is kept");
});
