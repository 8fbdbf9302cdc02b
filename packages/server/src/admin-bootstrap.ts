import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { gatewayConfigPaths, writeAdminTokenFile } from './admin-token-file.js';
import type { SecretRegistry } from './secret-registry.js';
import type { Store } from './store/index.js';
import { ADMIN_TOKEN_PREFIX, generateToken, hashToken, tokenMatchesHash } from './tokens.js';

/**
 * First start: generates the admin token, stores only its hash (set-if-absent, so two replicas
 * starting together agree on one), and writes the token 0600 to `gateways/<name>.token` in the CLI
 * config dir. Later starts change nothing; a missing local token file is reported with the fix.
 */
export async function ensureAdminToken(deps: {
  store: Store;
  registry: SecretRegistry;
  log: Logger;
  configDir: string | undefined;
  name: string;
}): Promise<{ created: boolean; tokenFile?: string }> {
  const existing = await deps.store.getAdminTokenHash();
  if (existing === undefined) {
    const token = generateToken(ADMIN_TOKEN_PREFIX);
    deps.registry.register(token);
    const won = await deps.store.setAdminTokenHash(hashToken(token), { onlyIfAbsent: true });
    if (won) {
      if (deps.configDir === undefined) {
        deps.log.warn('admin token created but not written anywhere (no config dir): start the gateway with a config dir');
        return { created: true };
      }
      const tokenFile = await writeAdminTokenFile(deps.configDir, deps.name, token);
      deps.log.info({ tokenFile }, 'admin token created (only its hash is stored)');
      return { created: true, tokenFile };
    }
  }
  if (deps.configDir !== undefined) {
    const tokenFile = gatewayConfigPaths(deps.configDir, deps.name).token;
    let onDisk: string | undefined;
    try {
      onDisk = (await readFile(tokenFile, 'utf8')).trim();
    } catch {
      onDisk = undefined;
    }
    if (onDisk !== undefined) {
      const stored = existing ?? (await deps.store.getAdminTokenHash());
      if (stored !== undefined && !tokenMatchesHash(onDisk, stored)) {
        deps.log.warn(
          { tokenFile },
          "the token file does not hold this gateway's admin token (another gateway with the same name and a different data dir or database wrote it?): give each gateway its own --name",
        );
        return { created: false };
      }
      deps.registry.register(onDisk);
      return { created: false, tokenFile };
    }
    deps.log.warn(
      { tokenFile },
      'the store already has an admin token but this machine has no token file: get the token from where the gateway first started, then run `openshell gateway add` with it',
    );
  }
  return { created: false };
}
