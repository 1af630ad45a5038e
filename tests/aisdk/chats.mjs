// What the AI SDK suites share: a chat as a page keeps it (the caller's key on every request,
// a reconnect included), a message's text, and a bound on every wait.
import { MemoryState } from './memory_state.mjs';

export const LIMIT_MS = 20_000;

export function newChat(ai, { api, id, key, messages = [] }) {
  const state = new MemoryState();
  state.messages = messages;
  const transport = new ai.DefaultChatTransport({ api, headers: { authorization: `Bearer ${key}` } });
  return new ai.AbstractChat({ id, transport, state });
}

export const textOf = (message) => message.parts.filter((p) => p.type === 'text').map((p) => p.text).join('');

export async function within(promise, what) {
  let timer;
  const limit = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no end in ${LIMIT_MS} ms`)), LIMIT_MS); });
  try { return await Promise.race([promise, limit]); } finally { clearTimeout(timer); }
}
