#!/usr/bin/env node
// `npm run demo` (or `pnpm demo`): the whole Claude-subscription path on this machine, with no
// Anthropic account. It starts loopback fakes of Anthropic's API and token endpoint, a real gateway
// (`openshell gateway start`) on a temporary data dir, creates a provider from a generated Claude Code
// credentials file (`--from-claude-login`), sets the route, runs a client inside a sandbox
// (`openshell sandbox run`), and prints what the client got, what the upstream received and what the
// sandbox could see. Everything lives in a temporary directory that is removed at the end.
//
// Set OPENSHELL_DEMO_NO_BUILD=1 to skip the install/build step (the e2e suite builds first).
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const CLI = join(repo, 'packages', 'cli', 'bin', 'openshell.js');
const MODEL = 'claude-sonnet-4-6';
const PROMPT = 'What does OpenShell do with my token?';

if (!process.env.OPENSHELL_DEMO_NO_BUILD) {
  // Install and build as `npm start` does, with its progress on stderr so stdout is only the demo.
  const script = "import('./scripts/workspace.mjs').then((w) => w.prepareWorkspace())";
  const built = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: repo, stdio: ['ignore', 2, 2] });
  if (built.status !== 0) process.exit(built.status ?? 1);
}
// Imported after the build: both resolve to dist/.
const { canaryScan, createFakeAnthropic, createFakeTokenEndpoint, headerValues, writeClaudeCredentials } = await import('@openshell/testing');
const { fingerprintSecret } = await import('@openshell/server');

const root = mkdtempSync(join(tmpdir(), 'openshell-demo-'));
const home = join(root, 'home');
const env = {
  PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
  HOME: home,
  LANG: 'C.UTF-8',
  NO_COLOR: '1',
  XDG_CONFIG_HOME: join(root, 'config'),
  XDG_DATA_HOME: join(root, 'data'),
  CLAUDE_CONFIG_DIR: join(home, '.claude'),
};
const outputs = [];
let gateway;
let tokens;
let api;

/** Runs the real CLI; returns stdout, throws with its stderr on failure. */
function openshell(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => {
      outputs.push({ label: `openshell ${args.slice(0, 2).join(' ')}`, content: stdout + stderr });
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`openshell ${args.join(' ')} exited with ${code}\n${stderr}`));
    });
  });
}

/** `openshell gateway start` in the foreground, as a child; resolves with its URL once ready. */
async function startGateway(profilesDir) {
  const args = [CLI, 'gateway', 'start', '--listen', '127.0.0.1:0', '--data-dir', join(root, 'gateway'), '--profiles-dir', profilesDir];
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (c) => (log += c));
  child.stderr.on('data', (c) => (log += c));
  gateway = { child, log: () => log };
  for (let i = 0; i < 600; i++) {
    const url = /listening on (https?:\/\/[^\s)]+)/.exec(log)?.[1];
    if (url) return url;
    if (child.exitCode !== null) throw new Error(`the gateway exited:\n${log}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the gateway did not start in 30 s:\n${log}`);
}

async function main() {
  tokens = await createFakeTokenEndpoint();
  api = await createFakeAnthropic({ tokenEndpoint: tokens });
  // A Claude Code login, as `claude` writes it after you sign in.
  const login = tokens.issueLogin();
  await writeClaudeCredentials(join(home, '.claude'), login);
  // The built-in anthropic-oauth profile, with its token URL pointed at the fake.
  const profilesDir = join(root, 'profiles');
  mkdirSync(profilesDir);
  const profile = readFileSync(join(repo, 'providers', 'anthropic-oauth.yaml'), 'utf8').replace(/token_urls:\n(?:\s+- .*\n)+/, `token_urls:\n        - ${tokens.tokenUrl}\n`);
  writeFileSync(join(profilesDir, 'anthropic-oauth.yaml'), profile);

  const url = await startGateway(profilesDir);
  await openshell(['provider', 'create', '--name', 'claude-plan', '--type', 'claude-plan', '--from-claude-login', '--config', `ANTHROPIC_OAUTH_BASE_URL=${api.url}/v1`]);
  await openshell(['inference', 'set', '--provider', 'claude-plan', '--model', MODEL]);
  await openshell(['sandbox', 'create', '--name', 'demo', '--provider', 'claude-plan']);
  const provider = JSON.parse((await openshell(['provider', 'get', 'claude-plan', '-o', 'json'])).stdout).provider;

  // The client goes into the sandbox's persistent HOME, the only host directory a bwrap sandbox sees.
  const sandboxHome = join(env.XDG_DATA_HOME, 'openshell', 'sandboxes', 'demo', 'home');
  mkdirSync(sandboxHome, { recursive: true });
  copyFileSync(join(here, 'sandbox-client.mjs'), join(sandboxHome, 'client.mjs'));
  const before = api.requests.length;
  const run = await openshell(['sandbox', 'run', 'demo', '--', process.execPath, join(sandboxHome, 'client.mjs'), PROMPT]);
  const line = run.stdout.split('\n').find((l) => l.startsWith('{'));
  const child = JSON.parse(line ?? '{}');
  const upstream = api.requests.slice(before).find((r) => r.url.startsWith('/v1/messages'));
  if (!upstream) throw new Error('the upstream received no request');
  const bearer = (headerValues(upstream, 'authorization')[0] ?? '').replace(/^Bearer /, '');
  const isolation = /isolation: (bwrap|none)/.exec(run.stderr)?.[1] ?? 'unknown';

  const secrets = [login.accessToken, login.refreshToken];
  const hits = await canaryScan(
    [
      { label: 'sandbox environment', content: JSON.stringify(child.env ?? {}) },
      { label: 'sandbox output', content: run.stdout + run.stderr },
      { label: 'gateway log', content: gateway.log() },
      ...outputs,
      { path: join(env.XDG_DATA_HOME, 'openshell', 'sandboxes') },
    ],
    secrets,
  );

  const fp = provider.fingerprints?.ANTHROPIC_OAUTH_TOKEN ?? '?';
  const betas = headerValues(upstream, 'anthropic-beta');
  const placeholder = child.env?.CLAUDE_CODE_OAUTH_TOKEN ?? '(unset)';
  const ok =
    child.status === 200 &&
    bearer === login.accessToken &&
    fingerprintSecret(bearer) === fp &&
    headerValues(upstream, 'x-api-key').length === 0 &&
    betas.length === 1 &&
    hits.length === 0;
  const w = (k, v) => process.stdout.write(`  ${k.padEnd(24)} ${v}\n`);
  process.stdout.write('OpenShell-TS demo: a Claude subscription token used by a sandbox that never sees it\n');
  process.stdout.write('(Anthropic is faked on 127.0.0.1; everything else is the real gateway, CLI and supervisor)\n\n');
  w('gateway', `${url}, SQLite in a temporary data dir`);
  w('provider', `claude-plan (anthropic-oauth) from a generated ~/.claude/.credentials.json, token fingerprint ${fp}`);
  w('route', `inference.local -> claude-plan, model ${MODEL}`);
  w('sandbox', `demo, isolation ${isolation}`);
  process.stdout.write('\nthe sandboxed client asked, streaming:\n');
  w('prompt', JSON.stringify(PROMPT));
  w('answer', JSON.stringify(child.answer ?? child.error));
  process.stdout.write('\nthe upstream (fake api.anthropic.com) received:\n');
  w('authorization', `Bearer <token with fingerprint ${fingerprintSecret(bearer)}>${fingerprintSecret(bearer) === fp ? ' = the provider\'s token' : ' (NOT the provider\'s token)'}`);
  w('anthropic-beta', `${betas.join(' | ')}  (the client's flag + the required oauth flag, one header)`);
  w('x-api-key', headerValues(upstream, 'x-api-key').length === 0 ? '(none)' : 'PRESENT');
  process.stdout.write('\nthe sandbox could see:\n');
  w('ANTHROPIC_BASE_URL', child.env?.ANTHROPIC_BASE_URL ?? '(unset)');
  w('CLAUDE_CODE_OAUTH_TOKEN', `${placeholder.slice(0, 24)}${placeholder.length > 24 ? '…' : ''} (a placeholder, not a credential)`);
  w('the real token', hits.length === 0 ? 'nowhere: not in its environment, its files, its output, nor any log' : `LEAKED: ${hits.map((h) => h.where).join(', ')}`);
  process.stdout.write(`\n${ok ? 'demo passed' : 'demo FAILED'}; cleaned up.\n`);
  return ok;
}

let passed = false;
try {
  passed = await main();
} catch (err) {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
} finally {
  if (gateway && gateway.child.exitCode === null) {
    const exited = new Promise((r) => gateway.child.on('exit', r));
    gateway.child.kill('SIGTERM');
    const timer = setTimeout(() => gateway.child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  await api?.close();
  await tokens?.close();
  rmSync(root, { recursive: true, force: true });
}
process.exit(passed ? 0 : 1);
