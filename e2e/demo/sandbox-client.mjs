// The demo's sandbox client: plain Node, no dependencies (the demo copies it into the sandbox's HOME).
// It knows only what the sandbox gives it — ANTHROPIC_BASE_URL (https://inference.local) and a
// placeholder CLAUDE_CODE_OAUTH_TOKEN — and sends its own anthropic-beta flag, like a real client.
// It streams one answer and prints one JSON line: the answer and its whole environment.
const prompt = process.argv[2] ?? 'hello';
const base = process.env.ANTHROPIC_BASE_URL ?? 'https://inference.local';
const res = await fetch(`${base}/v1/messages`, {
  method: 'POST',
  headers: {
    'content-type': 'application/json',
    'anthropic-version': '2023-06-01',
    'anthropic-beta': 'fine-grained-tool-streaming-2025-05-14',
    authorization: `Bearer ${process.env.CLAUDE_CODE_OAUTH_TOKEN ?? 'placeholder'}`,
  },
  body: JSON.stringify({
    model: 'claude-sonnet-4-6',
    max_tokens: 64,
    stream: true,
    system: [{ type: 'text', text: "You are Claude Code, Anthropic's official CLI for Claude." }],
    messages: [{ role: 'user', content: prompt }],
  }),
});
let answer = '';
let raw = '';
if (res.ok && res.body) {
  for await (const chunk of res.body) raw += Buffer.from(chunk).toString('utf8');
  for (const line of raw.split('\n')) {
    if (!line.startsWith('data: ')) continue;
    try {
      const event = JSON.parse(line.slice(6));
      if (event.type === 'content_block_delta' && event.delta?.type === 'text_delta') answer += event.delta.text;
    } catch {
      // not JSON
    }
  }
} else raw = await res.text();
process.stdout.write(`${JSON.stringify({ status: res.status, answer, error: res.ok ? undefined : raw, env: process.env })}\n`);
process.exit(res.ok ? 0 : 1);
