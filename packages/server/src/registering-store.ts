import type { SecretRegistry } from './secret-registry.js';
import type { Store } from './store/index.js';

/** Keys whose string values (or whose object's string values) are secrets. */
const SECRET_CONTAINERS = new Set(['credentials', 'material']);
const SECRET_FIELDS = new Set(['accessToken', 'refreshToken', 'refresh_token', 'access_token', 'client_secret']);
const MAX_DEPTH = 6;

function collect(value: unknown, registry: SecretRegistry, depth: number): void {
  if (depth > MAX_DEPTH || value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (const v of value) collect(v, registry, depth + 1);
    return;
  }
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (typeof v === 'string') {
      if (SECRET_FIELDS.has(key)) registry.register(v);
      continue;
    }
    if (SECRET_CONTAINERS.has(key) && v !== null && typeof v === 'object' && !Array.isArray(v)) {
      for (const s of Object.values(v as Record<string, unknown>)) if (typeof s === 'string') registry.register(s);
      continue;
    }
    collect(v, registry, depth + 1);
  }
}

/**
 * Wraps a store so that every secret value passing through it — credentials and refresh material
 * read (unsealed) or written, minted tokens — is registered with the log scrubber before anyone
 * can log it. The refresh engine gets the wrapped store too.
 */
export function registeringStore(store: Store, registry: SecretRegistry): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const member: unknown = Reflect.get(target, prop, receiver);
      if (typeof member !== 'function') return member;
      return (...args: unknown[]) => {
        collect(args, registry, 0);
        const result: unknown = (member as (...a: unknown[]) => unknown).apply(target, args);
        if (result instanceof Promise) {
          return result.then((value: unknown) => {
            collect(value, registry, 0);
            return value;
          });
        }
        return result;
      };
    },
  });
}
