// A sandbox child that uses the official Anthropic SDK with no proxy support of its own: it only
// reads ANTHROPIC_BASE_URL (https://inference.local) and API-key mode with a dummy key. Prints one
// JSON line with what it got and the exact bodies it sent.
import Anthropic from '@anthropic-ai/sdk';

const client = new Anthropic({ apiKey: 'unused', maxRetries: 0, timeout: 20_000, defaultHeaders: { 'anthropic-beta': 'fine-grained-tool-streaming-2025-05-14' } });
const params = { model: 'claude-haiku-4-5', max_tokens: 64, messages: [{ role: 'user', content: process.argv[2] ?? 'hello from the sandbox' }] };
const out = { baseURL: client.baseURL };
try {
  const message = await client.messages.create(params);
  out.nonStreaming = { text: message.content[0]?.text, sent: JSON.stringify(params) };
  const stream = client.messages.stream(params);
  let streamed = '';
  stream.on('text', (t) => {
    streamed += t;
  });
  const final = await stream.finalMessage();
  out.streaming = { text: streamed, stop: final.stop_reason, sent: JSON.stringify({ ...params, stream: true }) };
} catch (err) {
  out.error = { name: err?.constructor?.name, status: err?.status, message: String(err?.message ?? err) };
}
process.stdout.write(`${JSON.stringify(out)}\n`);
