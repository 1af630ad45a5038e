// The Vercel AI SDK's own client against chat-stream under `cargo lambda watch`: AbstractChat
// (what useChat wraps) with DefaultChatTransport, reading our UI message stream with the SDK's
// parser. Every version in VERSIONS runs the same scenarios with its own client and its own
// chunk schemas (ai 6.0.99's refuse any key they do not name). Run by
// tests/tests/ai_sdk_under_watch.rs, which passes the URLs and expectations.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { MemoryState } from './memory_state.mjs';

// npm aliases, pinned in package.json and package-lock.json: the latest 5.x, the first 6.x whose
// strict schemas people still run, the latest 6.x and the latest 7.x.
const VERSIONS = ['ai-5', 'ai-6.0.99', 'ai-6', 'ai-7'];
const versionOf = (alias) =>
  JSON.parse(readFileSync(new URL(`./node_modules/${alias}/package.json`, import.meta.url), 'utf8')).version;
console.log(`AI_SDK_VERSIONS=${VERSIONS.map(versionOf).join(',')}`);

const STREAM_URL = process.env.STREAM_URL; // chat-stream's URL, ending in '/'
const EXPECTED_TRICKY = process.env.EXPECTED_TRICKY;
const EXPECTED_REASONING = process.env.EXPECTED_REASONING; // the stand-in's tricky summary, whole
const LIMIT_MS = 20_000;

// The README's stop: useChat's stop() only closes the connection, which a Lambda does not see,
// so onFinish tells chat-stream to cancel the answer by the id its metadata carries.
async function stopAnswer(message) {
  const responseId = message?.metadata?.responseId;
  if (!responseId) return undefined;
  const response = await fetch(`${STREAM_URL}stop`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ response_id: responseId }),
  });
  return { status: response.status, body: await response.json() };
}

function newChat(ai, { api = STREAM_URL, onStop } = {}) {
  return new ai.AbstractChat({
    transport: new ai.DefaultChatTransport({ api }),
    state: new MemoryState(),
    onFinish: ({ message, isAbort }) => { if (isAbort) onStop?.(stopAnswer(message)); },
  });
}

const textOf = (message) => message.parts.filter((p) => p.type === 'text').map((p) => p.text).join('');
const lastAnswer = (chat) => chat.messages.at(-1);

async function within(promise, what) {
  let timer;
  const limit = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no end in ${LIMIT_MS} ms`)), LIMIT_MS); });
  try { return await Promise.race([promise, limit]); } finally { clearTimeout(timer); }
}

for (const alias of VERSIONS) {
  const ai = await import(alias);
  describe(`ai ${versionOf(alias)} (${alias})`, () => {
    test('the text the SDK assembles is the answer, tricky text included, and a conversation goes on', async () => {
      const chat = newChat(ai);
      await within(chat.sendMessage({ text: '/stub text=tricky done' }), 'tricky');
      assert.equal(chat.status, 'ready', String(chat.error));
      const answer = lastAnswer(chat);
      assert.equal(answer.role, 'assistant');
      assert.equal(textOf(answer), EXPECTED_TRICKY);
      assert.deepEqual(answer.parts.map((p) => p.type).filter((t) => t === 'text' || t === 'reasoning'), ['text']);
      assert.match(answer.metadata.responseId, /^resp_/);
      assert.ok(answer.metadata.usage.outputTokens > 0, JSON.stringify(answer.metadata));
      // The second turn sends the whole history; the Rust side checks what reached OpenAI.
      await within(chat.sendMessage({ text: '/stub echo second turn' }), 'second turn');
      assert.equal(chat.status, 'ready', String(chat.error));
      assert.equal(textOf(lastAnswer(chat)), 'second turn');
      assert.equal(chat.messages.length, 4);
    });

    test('a reasoning summary becomes one reasoning part, before the text, as the SDK reads it', async () => {
      const chat = newChat(ai);
      await within(chat.sendMessage({ text: '/stub summary=tricky echo thought through' }), 'reasoning');
      assert.equal(chat.status, 'ready', String(chat.error));
      const parts = lastAnswer(chat).parts.filter((p) => p.type === 'reasoning' || p.type === 'text');
      assert.deepEqual(parts.map((p) => p.type), ['reasoning', 'text']);
      assert.equal(parts[0].text, EXPECTED_REASONING);
      assert.equal(parts[0].state, 'done');
      assert.equal(textOf(lastAnswer(chat)), 'thought through');
    });

    test('an upstream failure arrives as the SDK error, after the text already sent', async () => {
      const chat = newChat(ai);
      await within(chat.sendMessage({ text: '/stub error=nested after=2 echo abcd' }), 'failure');
      assert.equal(chat.status, 'error');
      assert.match(chat.error.message, /^The answer failed part way/);
      assert.equal(textOf(lastAnswer(chat)), 'ab');
      // Before the stream, as inline errors: the same error, in words.
      const inline = newChat(ai, { api: `${STREAM_URL}?errors=inline` });
      await within(inline.sendMessage({ text: '/stub status=500' }), 'inline failure');
      assert.equal(inline.status, 'error');
      assert.match(inline.error.message, /^OpenAI failed to answer \(HTTP 500\)/);
      // Without inline errors, a status: the SDK's error carries the JSON body.
      const plain = newChat(ai);
      await within(plain.sendMessage({ text: '/stub status=500' }), 'status failure');
      assert.equal(plain.status, 'error');
      assert.equal(JSON.parse(plain.error.message).code, 'upstream_error');
    });

    test('stop() with the README onFinish stops the answer upstream', async () => {
      let stopped;
      const chat = newChat(ai, { onStop: (result) => { stopped = result; } });
      const sending = chat.sendMessage({ text: '/stub deltas=400 delay_ms=10' });
      const started = Date.now();
      while (textOf(lastAnswer(chat) ?? { parts: [] }).length < 3 || !lastAnswer(chat)?.metadata?.responseId) {
        assert.ok(Date.now() - started < LIMIT_MS, 'no text to stop');
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await chat.stop();
      await within(sending, 'the stopped send');
      assert.ok(stopped, 'onFinish saw the abort');
      const result = await within(stopped, 'the stop request');
      const responseId = lastAnswer(chat).metadata.responseId;
      assert.equal(result.status, 200, JSON.stringify(result.body));
      assert.equal(result.body.stopped, responseId);
      assert.ok(textOf(lastAnswer(chat)).length < 400);
      console.log(`STOPPED_RESPONSE_ID=${responseId}`);
    });
  });
}
