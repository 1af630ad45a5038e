// The AI SDK's own `resume: true` (what useChat does on mount: `chat.resumeStream()`, a
// `GET {api}/{chat id}/stream` by DefaultChatTransport) against chat-stream under
// `cargo lambda watch` with limits on and access keys: a reader who left mid-answer and comes
// back gets the whole answer exactly; a chat with nothing running shows as it is (204); another
// key is refused. Every version in VERSIONS, each with its own client. Then docs/api.md's
// Next.js example's WorkflowChatTransport, as written there: its hooks put the key on the POST
// and on a reconnect by run id. Run by
// tests/tests/ai_sdk_resume.rs, which passes the URL, the keys and the expected text.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { WorkflowChatTransport } from '@ai-sdk/workflow/client';
import { LIMIT_MS, newChat as chatAt, textOf, within } from './chats.mjs';
import { MemoryState } from './memory_state.mjs';

const VERSIONS = ['ai-5', 'ai-6.0.99', 'ai-6', 'ai-7'];
const versionOf = (alias) =>
  JSON.parse(readFileSync(new URL(`./node_modules/${alias}/package.json`, import.meta.url), 'utf8')).version;

const STREAM_URL = process.env.STREAM_URL; // chat-stream's URL, ending in '/'
const QUESTION = process.env.QUESTION;
const EXPECTED_TEXT = process.env.EXPECTED_TEXT;
const [ALICE, BOB] = [process.env.ALICE_KEY, process.env.BOB_KEY];
// A chat as a page keeps it, at this suite's URL.
const newChat = (ai, options) => chatAt(ai, { api: STREAM_URL, ...options });

async function until(condition, what) {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > LIMIT_MS) throw new Error(`${what}: not within ${LIMIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

for (const alias of VERSIONS) {
  const ai = await import(alias);
  describe(`ai ${versionOf(alias)} (${alias})`, () => {
    test('a reader who left mid-answer gets it whole on resume; nobody else does; then 204', async () => {
      const id = `chat-${alias.replaceAll('.', '-')}-${Date.now()}`;
      const first = newChat(ai, { id, key: ALICE });
      const asked = first.sendMessage({ text: QUESTION });
      await until(() => first.messages.length === 2 && textOf(first.messages[1]).length > 0, 'the first words');
      // The page closes: its connection goes, the answer goes on at OpenAI.
      await first.stop();
      await within(asked, 'the first request');
      const question = first.messages[0];
      const partial = textOf(first.messages[1]);
      assert.ok(partial.length < EXPECTED_TEXT.length, `the reader left mid-answer (${partial.length} bytes)`);

      // Bob, with the same chat id while it runs: nothing (204), his chat as it was.
      const bob = newChat(ai, { id, key: BOB, messages: [question] });
      await within(bob.resumeStream(), 'bob');
      assert.equal(bob.status, 'ready', String(bob.error));
      assert.equal(bob.error, undefined);
      assert.deepEqual(bob.messages.map((m) => m.role), ['user']);

      // Alice reloads the page: useChat's `resume: true` replays the answer from its start.
      const back = newChat(ai, { id, key: ALICE, messages: [question] });
      await within(back.resumeStream(), 'resume');
      assert.equal(back.status, 'ready', String(back.error));
      assert.deepEqual(back.messages.map((m) => m.role), ['user', 'assistant']);
      const answer = back.messages[1];
      assert.equal(textOf(answer), EXPECTED_TEXT, 'the whole answer, nothing repeated or lost');
      assert.match(answer.metadata?.responseId ?? '', /^resp_/);
      assert.ok(answer.metadata?.usage?.totalTokens > 0, JSON.stringify(answer.metadata));

      // Finished: a later mount finds nothing running and leaves the chat as it is.
      const later = newChat(ai, { id, key: ALICE, messages: back.messages });
      await within(later.resumeStream(), 'after the end');
      assert.equal(later.status, 'ready', String(later.error));
      assert.equal(later.messages.length, 2);
      console.log(`RESUMED_RESPONSE_ID=${answer.metadata.responseId}`);
    });

    test('a chat with nothing running stays as it is (204)', async () => {
      const chat = newChat(ai, { id: `idle-${alias.replaceAll('.', '-')}`, key: ALICE });
      await within(chat.resumeStream(), 'idle');
      assert.equal(chat.status, 'ready', String(chat.error));
      assert.equal(chat.error, undefined);
      assert.deepEqual(chat.messages, []);
    });
  });
}

// The chunks of a UI message stream as the transport hands them over.
async function readChunks(stream) {
  const chunks = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

describe("docs/api.md's Next.js example: WorkflowChatTransport with the caller's key", () => {
  test('the key goes on the POST and on a reconnect by run id, through the two prepare hooks', async () => {
    const ai = await import('ai-7');
    const seen = [];
    let runId;
    const realFetch = globalThis.fetch;
    globalThis.fetch = async (url, init) => {
      seen.push(`${init?.method ?? 'GET'} ${new Headers(init?.headers).get('authorization') === `Bearer ${ALICE}`}`);
      const response = await realFetch(url, init);
      runId ??= response.headers.get('x-workflow-run-id') ?? undefined;
      return response;
    };
    try {
      // As the example writes it (getKeyOrToken is the app's).
      const getKeyOrToken = () => ALICE;
      const api = STREAM_URL;
      const authorization = () => ({ authorization: `Bearer ${getKeyOrToken()}` });
      const transport = new WorkflowChatTransport({
        api,
        prepareSendMessagesRequest: ({ messages, body }) => ({ body: { ...body, messages }, headers: authorization() }),
        prepareReconnectToStreamRequest: () => ({ headers: authorization() }),
      });
      const chat = new ai.AbstractChat({ transport, state: new MemoryState() });
      await within(chat.sendMessage({ text: QUESTION }), 'workflow');
      assert.equal(chat.status, 'ready', String(chat.error));
      assert.equal(textOf(chat.messages[1]), EXPECTED_TEXT);
      assert.match(runId ?? '', /^resp_[^.]+\./, 'the POST named its run');
      // What the transport sends after a hand-over: the same run from chunk 0, with the hook's key.
      const again = await within(readChunks(await transport.reconnectToStream({ chatId: runId })), 'reconnect');
      assert.equal(again.filter((c) => c.type === 'text-delta').map((c) => c.delta).join(''), EXPECTED_TEXT);
      assert.equal(again.filter((c) => c.type === 'finish').length, 1);
      assert.deepEqual(seen, ['POST true', 'GET true']);
      // Without the reconnect hook the key is missing there, and the reconnect is refused.
      const keyless = new WorkflowChatTransport({ api, maxConsecutiveErrors: 1 });
      await assert.rejects(readChunks(await keyless.reconnectToStream({ chatId: runId })), /401/);
    } finally {
      globalThis.fetch = realFetch;
    }
  });
});
