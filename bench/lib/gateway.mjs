// Helpers around the real gateway: start it in its own process, call its admin API, set up a
// provider + inference.local route + sandboxes the way `openshell` would.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { forkIpc } from './proc.mjs';

/** Starts createGateway (SQLite in `dir/data`) in a child process. */
export async function startGateway({ dir, refresh = false, profilesDir }) {
  mkdirSync(dir, { recursive: true });
  const proc = forkIpc('gateway-proc.mjs', { logFile: join(dir, 'gateway.log') });
  const { url, adminToken } = await proc.call({ op: 'start', dir, refresh, ...(profilesDir ? { profilesDir } : {}) });
  const admin = async (method, path, body) => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let json;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    if (res.status >= 400) throw new Error(`gateway ${method} ${path} → ${res.status}: ${text.slice(0, 300)}`);
    return json;
  };
  return {
    url,
    pid: proc.pid,
    admin,
    close: async () => {
      await proc.call({ op: 'close' }).catch(() => undefined);
      await proc.kill();
    },
  };
}

/**
 * Creates a claude-plan provider whose base URL is `upstreamUrl`, routes inference.local to it and
 * creates `sandboxes` sandboxes bound to it; returns their tokens.
 */
export async function setupRoute(gw, { upstreamUrl, credential, sandboxes = 1, expiresAt, refreshToken }) {
  await gw.admin('POST', '/v1/providers', {
    name: 'claude-plan',
    type: 'claude-plan',
    credentials: { ANTHROPIC_OAUTH_TOKEN: credential },
    config: { ANTHROPIC_OAUTH_BASE_URL: `${upstreamUrl}/v1` },
    ...(expiresAt !== undefined ? { credentialExpiresAt: { ANTHROPIC_OAUTH_TOKEN: expiresAt } } : {}),
  });
  if (refreshToken !== undefined) await gw.admin('PUT', '/v1/providers/claude-plan/refresh', { material: { refresh_token: refreshToken } });
  await gw.admin('PUT', '/v1/inference/routes/inference.local', { provider: 'claude-plan', verify: false });
  const tokens = [];
  for (let i = 0; i < sandboxes; i++) {
    const created = await gw.admin('POST', '/v1/sandboxes', { name: `bench-${i}`, providers: ['claude-plan'] });
    tokens.push(created.token);
  }
  return tokens;
}
