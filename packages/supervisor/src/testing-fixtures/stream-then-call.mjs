// A sandbox child that opens a long SSE stream with the Anthropic SDK and, while the stream is
// still open, makes a second request. Handshake through files in $TMPDIR (bounded waits):
// writes `streaming` once text arrives, waits for `go`, makes the call, writes `call-done`, then
// waits for the stream to finish and prints both outcomes as JSON.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Anthropic from '@anthropic-ai/sdk';

const dir = process.env.TMPDIR;
const waitFor = async (name) => {
  for (let i = 0; i < 800 && !existsSync(join(dir, name)); i++) await new Promise((r) => setTimeout(r, 25));
};
const client = new Anthropic({ apiKey: 'unused', maxRetries: 0, timeout: 30_000 });
const stream = client.messages.stream({ model: 'claude-haiku-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'long-stream' }] });
let text = '';
let announced = false;
stream.on('text', (t) => {
  text += t;
  if (!announced) {
    announced = true;
    writeFileSync(join(dir, 'streaming'), '');
  }
});
const finished = stream.finalMessage();
await waitFor('streaming');
await waitFor('go');
const second = await client.messages.create({ model: 'claude-haiku-4-5', max_tokens: 8, messages: [{ role: 'user', content: 'during' }] });
writeFileSync(join(dir, 'call-done'), '');
await finished;
process.stdout.write(`${JSON.stringify({ streamed: text, second: second.content[0]?.text })}\n`);
