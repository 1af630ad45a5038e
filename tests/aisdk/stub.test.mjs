// The OpenAI stand-in read by the AI SDK's own OpenAI provider (@ai-sdk/openai, its Responses
// API model): the provider checks every streamed event against its schemas of OpenAI's wire
// format, so an event the stand-in shapes wrongly arrives as an error part here. Run by
// tests/tests/ai_sdk_under_watch.rs, which passes STUB_URL, API_KEY, EXPECTED_SUMMARY_PARTS and EXPECTED_TWO_PARTS.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { streamText, generateText } from 'ai';
import { createOpenAI } from '@ai-sdk/openai';

const openai = createOpenAI({ baseURL: `${process.env.STUB_URL}/v1`, apiKey: process.env.API_KEY });
const EXPECTED_SUMMARY_PARTS = JSON.parse(process.env.EXPECTED_SUMMARY_PARTS); // of summary=tricky
const EXPECTED_TWO_PARTS = JSON.parse(process.env.EXPECTED_TWO_PARTS); // of summary=2
const reasoningSummary = { openai: { reasoningSummary: 'auto' } };

async function parts(prompt, providerOptions = reasoningSummary) {
  const result = streamText({ model: openai.responses('gpt-5-mini'), prompt, providerOptions, maxRetries: 0 });
  const seen = [];
  for await (const part of result.fullStream) seen.push(part);
  return seen;
}

test('a reasoning summary and the text, every event as the SDK expects OpenAI to send it', async () => {
  const seen = await parts('/stub summary=tricky echo hello');
  assert.deepEqual(seen.filter((p) => p.type === 'error'), []);
  // One reasoning part per summary part, in order, each its deltas exactly.
  const reasoning = new Map();
  for (const p of seen.filter((p) => p.type === 'reasoning-delta')) reasoning.set(p.id, (reasoning.get(p.id) ?? '') + p.text);
  assert.deepEqual([...reasoning.values()], EXPECTED_SUMMARY_PARTS);
  const text = seen.filter((p) => p.type === 'text-delta').map((p) => p.text).join('');
  assert.equal(text, 'hello');
  const firstReasoning = seen.findIndex((p) => p.type === 'reasoning-delta');
  const firstText = seen.findIndex((p) => p.type === 'text-delta');
  assert.ok(firstReasoning >= 0 && firstReasoning < firstText, JSON.stringify(seen.map((p) => p.type)));
  const finish = seen.find((p) => p.type === 'finish');
  assert.ok(finish.totalUsage.reasoningTokens > 0 || finish.totalUsage.outputTokenDetails?.reasoningTokens > 0, JSON.stringify(finish.totalUsage));
});

test('silent thinking, then the text; no summary unless asked', async () => {
  const seen = await parts('/stub think_ms=300 summary=2 deltas=3', {});
  assert.deepEqual(seen.filter((p) => p.type === 'error'), []);
  assert.equal(seen.filter((p) => p.type === 'reasoning-delta' && p.text).length, 0);
  assert.equal(seen.filter((p) => p.type === 'text-delta').map((p) => p.text).join(''), 'w0 w1 w2');
});

test('a buffered answer with its summary, read by the SDK', async () => {
  const result = await generateText({ model: openai.responses('gpt-5-mini'), prompt: '/stub summary=2 echo whole', providerOptions: reasoningSummary, maxRetries: 0 });
  assert.equal(result.text, 'whole');
  assert.deepEqual(result.reasoning.map((r) => r.text), EXPECTED_TWO_PARTS);
});
