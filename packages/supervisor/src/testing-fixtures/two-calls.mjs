// A sandbox child that makes one Messages call, writes $TMPDIR/first-done, waits (bounded) for the
// test to create $TMPDIR/go, makes a second call, and prints both statuses and bodies as JSON.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.TMPDIR;
async function call(text) {
  const res = await fetch('https://inference.local/v1/messages', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: 'claude-haiku-4-5', max_tokens: 8, messages: [{ role: 'user', content: text }] }),
  });
  return { status: res.status, body: await res.text() };
}
const first = await call('first');
writeFileSync(join(dir, 'first-done'), '');
for (let i = 0; i < 800 && !existsSync(join(dir, 'go')); i++) await new Promise((r) => setTimeout(r, 25));
const second = await call('second');
process.stdout.write(`${JSON.stringify([first, second])}\n`);
