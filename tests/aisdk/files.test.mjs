// A picture and a PDF through each version's own client (`sendMessage({ text, files })`, the
// `file` parts useChat sends as data URLs) against a release chat-stream with the limits on;
// then a file that is none of the kinds taken, refused in the server's words whatever it claims.
// Run by tests/tests/ai_sdk_resume.rs, which checks what reached the model.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { MemoryState } from './memory_state.mjs';
import { textOf, within } from './chats.mjs';

const VERSIONS = ['ai-5', 'ai-6.0.99', 'ai-6', 'ai-7'];
const versionOf = (alias) =>
  JSON.parse(readFileSync(new URL(`./node_modules/${alias}/package.json`, import.meta.url), 'utf8')).version;
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
const PDF = 'JVBERi0xLjQKMSAwIG9iaiA8PCAvVHlwZSAvUGFnZSA+PiBlbmRvYmoKJSVFT0Y=';

for (const alias of VERSIONS) {
  const ai = await import(alias);
  describe(`ai ${versionOf(alias)} (${alias})`, () => {
    test('a picture and a PDF are asked about, and sent again with the history', async () => {
      const transport = new ai.DefaultChatTransport({
        api: process.env.STREAM_URL,
        headers: { authorization: `Bearer ${process.env.ALICE_KEY}` },
      });
      const chat = new ai.AbstractChat({ id: `files-${alias}-${Date.now()}`, transport, state: new MemoryState() });
      const files = [
        { type: 'file', mediaType: 'image/png', filename: 'dot.png', url: `data:image/png;base64,${PNG}` },
        { type: 'file', mediaType: 'application/pdf', filename: 'page.pdf', url: `data:application/pdf;base64,${PDF}` },
      ];
      await within(chat.sendMessage({ text: `/stub echo seen ${alias}`, files }), 'the answer about the files');
      assert.equal(chat.error, undefined, String(chat.error));
      assert.equal(textOf(chat.messages.at(-1)), `seen ${alias}`);
      // A text file is refused in the server's words, the history kept.
      const text = { type: 'file', mediaType: 'image/png', filename: 'notes.png', url: 'data:image/png;base64,aGVsbG8=' };
      await within(chat.sendMessage({ text: 'and this?', files: [text] }), 'the refused file');
      assert.match(String(chat.error), /PNG, JPEG, WebP or GIF/);
    });
  });
}
