// A useChat conversation going on from its last answer on OpenAI's side, through each version's
// own DefaultChatTransport against a release chat-stream (limits on, access keys): three turns, a
// regenerate, a history whose last answer was changed, and a second caller reusing the chat id.
// This side checks what the page sees; tests/tests/ai_sdk_resume.rs, which passes the URL and the
// keys, checks what the model was asked (the lines printed here say which answer is which).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { newChat as chatAt, textOf, within } from './chats.mjs';

const VERSIONS = ['ai-5', 'ai-6.0.99', 'ai-6', 'ai-7'];
const versionOf = (alias) =>
  JSON.parse(readFileSync(new URL(`./node_modules/${alias}/package.json`, import.meta.url), 'utf8')).version;

const STREAM_URL = process.env.STREAM_URL;
const [ALICE, BOB] = [process.env.ALICE_KEY, process.env.BOB_KEY];
// A chat as a page keeps it, at this suite's URL.
const newChat = (ai, options) => chatAt(ai, { api: STREAM_URL, ...options });

// One answer, whole: printed as `ANSWER <alias> <label> <response id>` for the Rust side.
function answered(chat, alias, label) {
  assert.equal(chat.error, undefined, `${label}: ${chat.error}`);
  assert.equal(chat.status, 'ready', label);
  const answer = chat.messages.at(-1);
  assert.equal(answer.role, 'assistant', label);
  assert.equal(textOf(answer), 'w0 w1 w2', label);
  const id = answer.metadata?.responseId ?? '';
  assert.match(id, /^resp_/, label);
  console.log(`ANSWER ${alias} ${label} ${id}`);
  return id;
}

for (const alias of VERSIONS) {
  const ai = await import(alias);
  describe(`ai ${versionOf(alias)} (${alias})`, () => {
    test('three turns, a regenerate, a changed answer and another caller with the same chat id', async () => {
      const id = `chain-${alias.replaceAll('.', '-')}-${Date.now()}`;
      const alice = newChat(ai, { id, key: ALICE });
      for (const turn of [1, 2, 3]) {
        await within(alice.sendMessage({ text: `/stub deltas=3 ${alias} turn ${turn}` }), `turn ${turn}`);
        answered(alice, alias, `turn${turn}`);
      }
      // Regenerate the last answer: the same history up to the third question.
      await within(alice.regenerate(), 'regenerate');
      answered(alice, alias, 'regenerated');
      assert.deepEqual(alice.messages.map((m) => m.role), ['user', 'assistant', 'user', 'assistant', 'user', 'assistant']);

      // A page that changed the last answer's text: its history is sent whole.
      const changed = structuredClone(alice.messages);
      changed[5].parts = changed[5].parts.map((p) => (p.type === 'text' ? { ...p, text: 'w0 w1 changed' } : p));
      const edited = newChat(ai, { id, key: ALICE, messages: changed });
      await within(edited.sendMessage({ text: `/stub deltas=3 ${alias} after a changed answer` }), 'changed');
      answered(edited, alias, 'changed');

      // Bob with Alice's chat id and her history: nothing of hers is gone on from.
      const bob = newChat(ai, { id, key: BOB, messages: structuredClone(alice.messages) });
      await within(bob.sendMessage({ text: `/stub deltas=3 ${alias} bob` }), 'bob');
      answered(bob, alias, 'bob');
    });
  });
}
