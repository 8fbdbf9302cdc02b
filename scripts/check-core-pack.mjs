#!/usr/bin/env node
// Proves @openshell/core works as a published package: builds it, packs it with pnpm, installs the
// tarball plus zod into an empty temporary project with npm, imports it from plain ESM, type-checks a
// consumer with the workspace's TypeScript, and asserts that nothing but zod was pulled in.
//
//   node scripts/check-core-pack.mjs [--keep]     (--keep leaves the temp project for inspection)
//
// Exit 0 when every check passes; otherwise prints what failed and exits 1.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const coreDir = join(root, 'packages', 'core');
const keep = process.argv.includes('--keep');
const corePkg = JSON.parse(readFileSync(join(coreDir, 'package.json'), 'utf8'));
const zodRange = corePkg.peerDependencies.zod;
const yamlRange = corePkg.peerDependencies.yaml;

const failures = [];
function check(ok, what) {
  process.stdout.write(`${ok ? 'ok  ' : 'FAIL'} ${what}\n`);
  if (!ok) failures.push(what);
}
function run(cmd, args, cwd, extraEnv = {}) {
  return execFileSync(cmd, args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false', ...extraEnv },
    timeout: 240_000,
  });
}
function runExpectingFailure(cmd, args, cwd) {
  try {
    run(cmd, args, cwd);
    return { failed: false, output: '' };
  } catch (err) {
    return { failed: true, output: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}
function listFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name)) : [join(dir, e.name)],
  );
}

const work = mkdtempSync(join(tmpdir(), 'openshell-core-pack-'));
try {
  // 1. Build and pack.
  run('pnpm', ['--filter', '@openshell/core', 'build'], root);
  const packDir = join(work, 'pack');
  mkdirSync(packDir);
  run('pnpm', ['--filter', '@openshell/core', 'pack', '--pack-destination', packDir], root);
  const tarballs = readdirSync(packDir).filter((f) => f.endsWith('.tgz'));
  check(tarballs.length === 1, `pnpm pack produced one tarball (${tarballs.join(', ')})`);
  const tarball = join(packDir, tarballs[0]);

  // 2. The tarball holds the build output and package.json only: no sources, no tests.
  const entries = run('tar', ['-tzf', tarball], work).trim().split('\n');
  check(entries.includes('package/dist/index.js') && entries.includes('package/dist/index.d.ts'), 'tarball has dist/index.js and dist/index.d.ts');
  check(entries.includes('package/dist/yaml/index.js'), 'tarball has the ./yaml subpath build');
  const stray = entries.filter((e) => !(e.startsWith('package/dist/') || /^package\/(package\.json|README\.md|CHANGELOG\.md|LICENSE)$/.test(e)) || /\.test\.|\.tsbuildinfo$/.test(e));
  check(stray.length === 0, `tarball holds nothing but dist/, package.json and docs${stray.length ? ` (found: ${stray.join(', ')})` : ''}`);

  // 3. The main entry imports nothing but zod and its own files (no node:*, no yaml).
  const distDir = join(coreDir, 'dist');
  const bad = [];
  for (const file of listFiles(distDir).filter((f) => f.endsWith('.js') && !f.startsWith(join(distDir, 'yaml')))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/(?:^|\s)(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)) {
      const spec = m[1] ?? m[2];
      if (!(spec.startsWith('./') || spec.startsWith('../') || spec === 'zod')) bad.push(`${relative(distDir, file)} → ${spec}`);
    }
  }
  check(bad.length === 0, `main entry imports only zod and relative modules${bad.length ? ` (found: ${bad.join(', ')})` : ''}`);

  // 4. Install the tarball and zod into an empty project with npm.
  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'core-pack-check', version: '0.0.0', private: true, type: 'module' }, null, 2));
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball, `zod@${zodRange}`], app);
  const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8'));
  const installed = Object.keys(lock.packages)
    .filter((k) => k.startsWith('node_modules/'))
    .map((k) => k.slice('node_modules/'.length))
    .sort();
  check(
    JSON.stringify(installed) === JSON.stringify(['@openshell/core', 'zod']),
    `npm installed nothing but @openshell/core and zod (got: ${installed.join(', ')})`,
  );

  // 5. Import it from plain ESM and use it.
  writeFileSync(
    join(app, 'use.mjs'),
    `import * as core from '@openshell/core';
const out = {
  type: core.normalizeProviderType(' Claude-Plan '),
  beta: core.inferenceProfileFor('anthropic-oauth').requiredHeaders[0].value,
  profiles: [...core.builtinCatalogue().keys()].length,
  oauthInjectable: core.isInjectable(core.builtinCatalogue().get('anthropic-oauth'), 'ANTHROPIC_OAUTH_TOKEN'),
  env: core.resolveProviderEnvironment([{ name: 'gh', type: 'github', credentials: { GH_TOKEN: 't' } }], core.builtinCatalogue()),
  secret: JSON.stringify({ s: new core.Secret('hunter2') }),
  protocol: core.detectProtocol('POST', '/v1/messages?beta=true'),
  isError: core.OpenShellError.isInstance(new core.CoreError('invalid_bundle', 'x')),
};
let yamlFailed = false;
try { await import('@openshell/core/yaml'); } catch { yamlFailed = true; }
out.yamlNeedsPeer = yamlFailed;
console.log(JSON.stringify(out));
`,
  );
  const used = JSON.parse(run('node', ['use.mjs'], app).trim());
  check(used.type === 'anthropic-oauth', 'ESM import: normalizeProviderType works');
  check(used.beta === 'oauth-2025-04-20', 'ESM import: anthropic-oauth inference profile present');
  check(used.profiles >= 9, `ESM import: builtinCatalogue has the built-in profiles (${used.profiles})`);
  check(used.oauthInjectable === false, 'ESM import: ANTHROPIC_OAUTH_TOKEN is not injectable');
  check(JSON.stringify(used.env) === '{"GH_TOKEN":"t"}', 'ESM import: resolveProviderEnvironment works');
  check(used.secret === '{"s":"[REDACTED]"}', 'ESM import: Secret redacts itself');
  check(used.protocol === 'anthropic_messages', 'ESM import: detectProtocol works');
  check(used.isError === true, 'ESM import: OpenShellError.isInstance works');
  check(used.yamlNeedsPeer === true, 'the ./yaml subpath needs the optional yaml peer (not installed)');

  // 6. Types: a consumer type-checks with the workspace's TypeScript; a wrong use is rejected.
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  writeFileSync(
    join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        target: 'ES2022',
        // zod's own declarations use the WHATWG URL type, which a consumer gets from DOM or @types/node.
        lib: ['ES2023', 'DOM'],
        types: [],
        strict: true,
        exactOptionalPropertyTypes: true,
        noUncheckedIndexedAccess: true,
        noEmit: true,
        skipLibCheck: false,
      },
      files: ['good.ts'],
    }),
  );
  writeFileSync(
    join(app, 'good.ts'),
    `import { builtinCatalogue, normalizeProviderType, parseRouteBundle, type ProviderProfile, type RouteBundle, Secret } from '@openshell/core';
const type: string = normalizeProviderType('gh');
const profile: ProviderProfile | undefined = builtinCatalogue().get(type);
const injectable: boolean | undefined = profile?.credentials[0]?.injectable;
const parse: (input: unknown) => RouteBundle = parseRouteBundle;
const secret: string = new Secret('x').reveal();
export { injectable, parse, secret };
`,
  );
  const good = runExpectingFailure('node', [tsc, '-p', 'tsconfig.json'], app);
  check(!good.failed, `a consumer type-checks against the packed types${good.failed ? `:\n${good.output}` : ''}`);
  writeFileSync(join(app, 'bad.ts'), `import { normalizeProviderType } from '@openshell/core';\nexport const n: number = normalizeProviderType('gh');\n`);
  writeFileSync(join(app, 'tsconfig.bad.json'), JSON.stringify({ extends: './tsconfig.json', files: ['bad.ts'] }));
  const badTypes = runExpectingFailure('node', [tsc, '-p', 'tsconfig.bad.json'], app);
  check(
    badTypes.failed && /bad\.ts\(2,\d+\): error TS2322/.test(badTypes.output) && !/error TS(?!2322)/.test(badTypes.output),
    `types are real: a wrong use fails with TS2322 and nothing else${badTypes.failed ? '' : ' (it compiled)'}`,
  );

  // 7. With the optional yaml peer, the ./yaml subpath parses a profile.
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', `yaml@${yamlRange}`], app);
  writeFileSync(
    join(app, 'yaml.mjs'),
    `import { parseProviderProfileYaml } from '@openshell/core/yaml';
const p = parseProviderProfileYaml('id: corp-git\\ndisplay_name: Corp Git\\ncredentials:\\n  - name: t\\n    env_vars: [CORP_TOKEN]\\n', 'corp-git.yaml');
console.log(JSON.stringify({ id: p.id, injectable: p.credentials[0].injectable }));
`,
  );
  const y = JSON.parse(run('node', ['yaml.mjs'], app).trim());
  check(y.id === 'corp-git' && y.injectable === true, 'the ./yaml subpath works once yaml is installed');
} catch (err) {
  failures.push(`unexpected error: ${err.message}${err.stderr ? `\n${err.stderr}` : ''}`);
  process.stdout.write(`FAIL ${failures[failures.length - 1]}\n`);
} finally {
  if (keep) process.stdout.write(`kept ${work}\n`);
  else rmSync(work, { recursive: true, force: true });
}

if (failures.length > 0) {
  process.stdout.write(`check-core-pack: ${failures.length} check(s) failed\n`);
  process.exit(1);
}
process.stdout.write('check-core-pack: all checks passed\n');
