// Scenario 5: N concurrent credential-rejected reports for the same credential (a fleet of
// supervisors that all saw a 401): token-endpoint calls (must be 1 per stampede) and time to all answered.
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createFakeTokenEndpoint } from '@openshell/testing';
import { Agent, request } from 'undici';
import { setupRoute, startGateway } from '../lib/gateway.mjs';
import { median, spread } from '../lib/stats.mjs';

const BUILTIN_YAML = fileURLToPath(new URL('../../providers/anthropic-oauth.yaml', import.meta.url));

export async function runStampede({ dir, reports, rounds, log }) {
  const fake = await createFakeTokenEndpoint({ expiresIn: 3600 });
  const profilesDir = join(dir, 'profiles');
  await mkdir(profilesDir, { recursive: true });
  const yaml = (await readFile(BUILTIN_YAML, 'utf8')).replace(/token_urls:\n(\s+- https:\/\/\S+\n)+/, `token_urls:\n        - ${fake.tokenUrl}\n`);
  if (!yaml.includes(fake.tokenUrl)) throw new Error('could not point the anthropic-oauth profile at the fake token endpoint');
  await writeFile(join(profilesDir, 'anthropic-oauth.yaml'), yaml);
  const results = [];
  try {
    // A fresh gateway per round: the engine rate-limits rejection-driven rotations per credential (30 s).
    for (let round = 0; round < rounds; round++) {
      const gw = await startGateway({ dir: join(dir, `gateway-${round}`), refresh: true, profilesDir });
      const agent = new Agent({ connections: reports, keepAliveTimeout: 30_000, pipelining: 1 });
      try {
      const login = fake.issueLogin();
      const [sandboxToken] = await setupRoute(gw, { upstreamUrl: 'http://127.0.0.1:9', credential: login.accessToken, expiresAt: login.expiresAt, refreshToken: login.refreshToken });
      const headers = { authorization: `Bearer ${sandboxToken}`, 'content-type': 'application/json' };
      const bundleRes = await request(`${gw.url}/v1/sandbox/bundle`, { dispatcher: agent, headers });
      const bundle = await bundleRes.body.json();
      const fingerprint = bundle.routes[0].credential.fingerprint;
      const callsBefore = fake.calls.length;
      const started = performance.now();
      const answers = await Promise.all(
        Array.from({ length: reports }, async () => {
          try {
            const res = await request(`${gw.url}/v1/sandbox/routes/inference.local/credential-rejected`, {
              method: 'POST',
              dispatcher: agent,
              headers,
              body: JSON.stringify({ fingerprint }),
              headersTimeout: 60_000,
              bodyTimeout: 60_000,
            });
            const body = await res.body.json();
            return { status: res.statusCode, fingerprint: body?.routes?.[0]?.credential?.fingerprint };
          } catch (err) {
            return { status: 0, error: String(err) };
          }
        }),
      );
      const ms = performance.now() - started;
      const tokenCalls = fake.calls.length - callsBefore;
      const ok = answers.filter((a) => a.status === 200).length;
      const rotated = answers.filter((a) => a.status === 200 && a.fingerprint !== fingerprint).length;
      results.push({ tokenCalls, ok, rotated, ms });
      log(`  stampede round ${round + 1}/${rounds}: ${reports} reports → ${tokenCalls} token call(s), ${ok} answered 200, ${rotated} with the rotated credential, ${ms.toFixed(0)} ms`);
      } finally {
        await agent.close();
        await gw.close();
      }
    }
    const ms = results.map((r) => r.ms);
    return {
      reports,
      rounds,
      tokenCallsPerRound: results.map((r) => r.tokenCalls),
      answered: results.map((r) => r.ok),
      rotatedAnswers: results.map((r) => r.rotated),
      allAnsweredMs: { median: median(ms), spread: spread(ms), values: ms },
    };
  } finally {
    await fake.close();
  }
}
