/**
 * A large request body shaped like Claude Code's Messages calls: a billing/attestation system block,
 * the Claude Code identity block, long instructions, many turns with tool calls (whose inputs contain
 * their own `model` keys), tool definitions and metadata. It deliberately contains bytes a
 * re-serializing proxy would change (`\u00e9` and `\/` escapes, non-ASCII, a spaced member), so a
 * hash comparison proves byte identity.
 */
export interface ClaudeCodeBody {
  /** The whole body, with `model` set to the client's model. */
  readonly text: string;
  /** The body the upstream must receive when the route pins `pinned`. */
  expectedWithModel(pinned: string): string;
}

export function claudeCodeBody(clientModel: string, targetBytes = 200 * 1024): ClaudeCodeBody {
  const system = [
    { type: 'text', text: 'x-anthropic-billing-header: cc_version=2.1.328.4f2; cc_entrypoint=cli; cch=9a1be3c0;' },
    { type: 'text', text: "You are Claude Code, Anthropic's official CLI for Claude.", cache_control: { type: 'ephemeral' } },
    { type: 'text', text: 'Follow the repository conventions.\n\t- Use "double quotes"\n\t- Paths like C:\\work\\x\n✓ é 😀 日本語' },
  ];
  const messages: unknown[] = [];
  let i = 0;
  let size = 0;
  const push = (m: unknown) => {
    messages.push(m);
    size += JSON.stringify(m).length + 1;
  };
  while (size < targetBytes) {
    push({ role: 'user', content: [{ type: 'text', text: `Turn ${i}: please read src/file-${i}.ts and fix the "bug" → ${'lorem ipsum '.repeat(40)}` }] });
    push({
      role: 'assistant',
      content: [
        { type: 'thinking', thinking: `Thinking about turn ${i}…`, signature: `EqQBCkYIBRgCKkB${i}sig==` },
        { type: 'tool_use', id: `toolu_${i}`, name: 'Task', input: { model: 'haiku', description: `sub-task ${i}`, prompt: 'x'.repeat(200) } },
      ],
    });
    push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: `toolu_${i}`, content: `{"model":"inner-${i}","ok":true}` }] });
    i++;
  }
  const tools = [{ name: 'Task', description: 'Launch a sub-agent', input_schema: { type: 'object', properties: { model: { type: 'string' } } } }];
  // Escapes JSON.stringify would never produce: a re-serializer would rewrite them.
  const oddMember = '"x_note" :  "caf\\u00e9 \\/ path"';
  const before = `{"system":${JSON.stringify(system)},"messages":${JSON.stringify(messages)},${oddMember},"model":`;
  const after = `,"tools":${JSON.stringify(tools)},"metadata":{"user_id":"user_0123_account_4567_session_89ab"},"max_tokens":32000,"thinking":{"type":"enabled","budget_tokens":31999},"stream":true}`;
  return {
    text: `${before}${JSON.stringify(clientModel)}${after}`,
    expectedWithModel: (pinned) => `${before}${JSON.stringify(pinned)}${after}`,
  };
}
