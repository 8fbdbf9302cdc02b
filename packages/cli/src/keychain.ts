/** The one keychain operation the CLI needs: read a generic password. Null when there is no item. */
export interface Keychain {
  getPassword(service: string, account: string): Promise<string | null>;
}

/** What happened when the keychain was asked (for the "where did we look" report). */
export type KeychainLookup =
  | { readonly status: 'found'; readonly value: string }
  | { readonly status: 'absent' }
  | { readonly status: 'unavailable'; readonly reason: string };

/**
 * The OS keychain through `@napi-rs/keyring`'s keytar-compatible API (`@napi-rs/keyring/keytar`), imported only when first used so
 * commands that never touch the keychain never load the native module.
 */
export function systemKeychain(): Keychain {
  return {
    async getPassword(service, account) {
      const mod = (await import('@napi-rs/keyring/keytar.js')) as unknown as {
        getPassword?: Keychain['getPassword'];
        default?: { getPassword: Keychain['getPassword'] };
      };
      const get = mod.getPassword ?? mod.default?.getPassword;
      if (!get) throw new Error('keychain library has no getPassword');
      return get(service, account);
    },
  };
}

/**
 * Looks an item up. A keychain that is missing, cannot load, or answers access-denied (as on a headless
 * Linux box) counts as no item; the reason is kept for the report.
 */
export async function lookupKeychain(keychain: Keychain, service: string, account: string): Promise<KeychainLookup> {
  try {
    const value = await keychain.getPassword(service, account);
    return value === null || value === '' ? { status: 'absent' } : { status: 'found', value };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { status: 'unavailable', reason: /AccessDenied|access denied/i.test(message) ? 'access denied' : 'not available' };
  }
}
