// The owner's web search through each version's own DefaultChatTransport against a release
// chat-stream with OPENAI_TOOLS: the answer's cited pages arrive as `source-url` parts, each page
// once, beside the text, and each search as a provider-executed tool call. Run by tests/tests/ai_sdk_resume.rs, which passes the URL.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { MemoryState } from './memory_state.mjs';
import { textOf, within } from './chats.mjs';

const VERSIONS = ['ai-5', 'ai-6.0.99', 'ai-6', 'ai-7'];
const versionOf = (alias) =>
  JSON.parse(readFileSync(new URL(`./node_modules/${alias}/package.json`, import.meta.url), 'utf8')).version;

for (const alias of VERSIONS) {
  const ai = await import(alias);
  describe(`ai ${versionOf(alias)} (${alias})`, () => {
    test('a search answer shows its sources as source-url parts', async () => {
      const transport = new ai.DefaultChatTransport({ api: process.env.STREAM_URL });
      const chat = new ai.AbstractChat({ id: `search-${alias}`, transport, state: new MemoryState() });
      await within(chat.sendMessage({ text: '/stub search=2 deltas=3' }), 'the search answer');
      assert.equal(chat.error, undefined, String(chat.error));
      const answer = chat.messages.at(-1);
      assert.equal(textOf(answer), 'w0 w1 w2');
      const sources = answer.parts.filter((p) => p.type === 'source-url');
      assert.deepEqual(sources.map((s) => s.url), ['https://example.com/result-0', 'https://example.com/result-1']);
      assert.equal(sources[0].title, 'Result <0> & "more"');
      // Each search as a provider-executed tool call, done, with what it searched for.
      const searches = answer.parts.filter((p) => p.type === 'tool-web_search');
      assert.equal(searches.length, 2, JSON.stringify(answer.parts));
      assert.ok(searches.every((p) => p.state === 'output-available' && p.providerExecuted === true), JSON.stringify(searches));
      assert.equal(searches[0].input.query, '/stub search=2 deltas=3 0');
    });
  });
}
