// Runs inside `keyctl session - node keychain-run.mjs ARGS...`: stores the login blob read from stdin in the
// keychain under KEYCHAIN_SERVICE / KEYCHAIN_ACCOUNT through @napi-rs/keyring's keytar API (the same API the
// CLI reads with), then runs the real CLI with ARGS in the same kernel session keyring, then deletes the item.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as keytar from '@napi-rs/keyring/keytar.js';

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const blob = Buffer.concat(chunks).toString('utf8');
const service = process.env.KEYCHAIN_SERVICE;
const account = process.env.KEYCHAIN_ACCOUNT;
if (!service || !account) {
  process.stderr.write('keychain-run: KEYCHAIN_SERVICE and KEYCHAIN_ACCOUNT are required\n');
  process.exit(99);
}
await keytar.setPassword(service, account, blob);
const env = { ...process.env };
delete env.KEYCHAIN_SERVICE;
delete env.KEYCHAIN_ACCOUNT;
const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'openshell.js');
const result = spawnSync(process.execPath, [bin, ...process.argv.slice(2)], { stdio: ['ignore', 'inherit', 'inherit'], env });
await keytar.deletePassword(service, account);
process.exit(result.status ?? 1);
