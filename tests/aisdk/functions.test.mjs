// The caller's own function through each version's own client against a release chat-stream
// with the limits on: the function is defined in the transport's `body` (`tools`), the model's
// call reaches `onToolCall`, the client answers it with `addToolOutput`, and
// `sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithToolCalls` sends the result back,
// once: the answer that reads it is a step of its own. Then an MCP call of the owner's that asks
// first: ai 6 and 7 say `ai_sdk_version` and get an approval the user answers
// (`addToolApprovalResponse`), ai 5 (which refuses chunk types it does not know) gets it told in
// the text. Run by tests/tests/ai_sdk_resume.rs.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { MemoryState } from './memory_state.mjs';
import { LIMIT_MS, textOf } from './chats.mjs';

const VERSIONS = ['ai-5', 'ai-6.0.99', 'ai-6', 'ai-7'];
const versionOf = (alias) =>
  JSON.parse(readFileSync(new URL(`./node_modules/${alias}/package.json`, import.meta.url), 'utf8')).version;

const WEATHER = {
  type: 'function',
  name: 'get_weather',
  description: "Today's weather in a city",
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

// Waits until the chat is idle with an answer that has text, or fails after LIMIT_MS.
async function settled(chat, what) {
  const started = Date.now();
  while (Date.now() - started < LIMIT_MS) {
    const last = chat.messages.at(-1);
    if (chat.status === 'ready' && last?.role === 'assistant' && textOf(last) !== '') return last;
    if (chat.status === 'error') throw new Error(`${what}: ${chat.error}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(`${what}: no answer with text in ${LIMIT_MS} ms (status ${chat.status})`);
}

for (const alias of VERSIONS) {
  const ai = await import(alias);
  describe(`ai ${versionOf(alias)} (${alias})`, () => {
    test('onToolCall runs the function and its result is read by the model, once', async () => {
      const seen = [];
      const transport = new ai.DefaultChatTransport({
        api: process.env.STREAM_URL,
        headers: { authorization: `Bearer ${process.env.ALICE_KEY}` },
        body: { tools: [WEATHER] },
      });
      const chat = new ai.AbstractChat({
        id: `functions-${alias}`,
        transport,
        state: new MemoryState(),
        sendAutomaticallyWhen: ai.lastAssistantMessageIsCompleteWithToolCalls,
        onToolCall: ({ toolCall }) => {
          seen.push(toolCall);
          // Not awaited inside onToolCall, as the SDK's docs say (it would wait on itself).
          chat.addToolOutput({ tool: toolCall.toolName, toolCallId: toolCall.toolCallId, output: { sky: 'clear', city: toolCall.input.city } });
        },
      });
      await chat.sendMessage({ text: `/stub call=1 ${alias}` });
      const answer = await settled(chat, 'the answer to the result');
      assert.equal(chat.error, undefined, String(chat.error));
      assert.equal(seen.length, 1, JSON.stringify(seen));
      assert.equal(seen[0].toolName, 'get_weather');
      assert.deepEqual(seen[0].input, { city: 'city 0' });
      assert.deepEqual(JSON.parse(textOf(answer).replace('The tools said: ', '')), { sky: 'clear', city: 'city 0' });
      const calls = answer.parts.filter((p) => p.type === 'tool-get_weather');
      assert.equal(calls.length, 1, JSON.stringify(answer.parts));
      assert.equal(calls[0].state, 'output-available');
      assert.equal(chat.messages.length, 2, 'one question, one answer message across both turns');
      // Nothing more is sent once the model has read the result.
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(chat.status, 'ready');
      console.log(`FUNCTION ${alias} ${seen[0].toolCallId}`);
    });
  });
}

for (const alias of VERSIONS) {
  const ai = await import(alias);
  const version = versionOf(alias);
  const readsApprovals = Number(version.split('.')[0]) >= 6;
  describe(`ai ${version} (${alias}) approvals`, () => {
    test(readsApprovals ? 'an MCP call waits for the user, who approves it' : 'an MCP approval is told in the text', async () => {
      const transport = new ai.DefaultChatTransport({
        api: process.env.STREAM_URL,
        headers: { authorization: `Bearer ${process.env.ALICE_KEY}` },
        body: readsApprovals ? { ai_sdk_version: version } : {},
      });
      const chat = new ai.AbstractChat({
        id: `approvals-${alias}`,
        transport,
        state: new MemoryState(),
        sendAutomaticallyWhen: ai.lastAssistantMessageIsCompleteWithApprovalResponses,
      });
      await chat.sendMessage({ text: `/stub approval=1 ${alias}` });
      assert.equal(chat.error, undefined, String(chat.error));
      if (!readsApprovals) {
        assert.match(textOf(chat.messages.at(-1)), /lookup on docs needs your approval/);
        return;
      }
      const asking = chat.messages.at(-1).parts.find((p) => p.state === 'approval-requested');
      assert.ok(asking, JSON.stringify(chat.messages.at(-1).parts));
      assert.equal(asking.toolName, 'lookup');
      await chat.addToolApprovalResponse({ id: asking.approval.id, approved: true });
      const answer = await settled(chat, 'the answer after the approval');
      assert.equal(textOf(answer), `The MCP server: ran ${asking.approval.id}`);
      console.log(`APPROVED ${alias} ${asking.approval.id}`);
    });
  });
}
