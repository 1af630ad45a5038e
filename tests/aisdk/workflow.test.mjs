// AI SDK 7's WorkflowChatTransport (@ai-sdk/workflow), as shipped (only `api` set), with ai 7's
// AbstractChat (what useChat wraps), against a release chat-stream whose invocations are shorter
// than the answer: the transport follows each hand-over by run id and `startIndex` until
// `finish`. Run by tests/tests/long_answers.rs, which passes the URL and the expected text.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AbstractChat } from 'ai-7';
import { WorkflowChatTransport } from '@ai-sdk/workflow/client';
import { MemoryState } from './memory_state.mjs';

const STREAM_URL = process.env.STREAM_URL; // chat-stream's URL, ending in '/'
const QUESTION = process.env.QUESTION;
const EXPECTED_TEXT = process.env.EXPECTED_TEXT;

test('a long answer arrives whole through WorkflowChatTransport', async () => {
  // The transport only logs a stream that failed (then reconnects): none may fail here.
  const logged = [];
  const consoleError = console.error;
  console.error = (...args) => { logged.push(args.map(String).join(' ')); };
  const requests = [];
  const realFetch = globalThis.fetch;
  globalThis.fetch = (url, init) => { requests.push(`${init?.method ?? 'GET'} ${url}`); return realFetch(url, init); };
  try {
    const chat = new AbstractChat({ transport: new WorkflowChatTransport({ api: STREAM_URL }), state: new MemoryState() });
    await chat.sendMessage({ text: QUESTION });
    const answer = chat.messages.at(-1);
    assert.equal(chat.error, undefined, `error: ${chat.error}`);
    assert.equal(chat.status, 'ready');
    assert.equal(answer.role, 'assistant');
    const texts = answer.parts.filter((p) => p.type === 'text');
    assert.equal(texts.length, 1, JSON.stringify(answer.parts));
    assert.equal(texts[0].text, EXPECTED_TEXT, 'nothing repeated or lost');
    assert.equal(texts[0].state, 'done');
    assert.match(answer.metadata?.responseId ?? '', /^resp_/);
    assert.ok(answer.metadata?.usage?.totalTokens > 0, JSON.stringify(answer.metadata));
    assert.deepEqual(logged, [], 'no stream failed');
    console.log(`REQUESTS=${JSON.stringify(requests)}`);
    assert.ok(requests.length >= 3, `the answer took ${requests.length} requests`);
    assert.ok(requests.slice(1).every((r) => /^GET .*\/\/[^/]+\/stream\?startIndex=\d+$/.test(r)), requests.join('\n'));
  } finally {
    console.error = consoleError;
    globalThis.fetch = realFetch;
  }
});
