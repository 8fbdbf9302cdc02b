import { z } from 'zod';

/** Provider, route and sandbox names: letters, digits, `.`, `_`, `-`; start with a letter or digit. */
export const resourceName = z
  .string()
  .min(1, 'must not be empty')
  .max(128, 'must be at most 128 characters')
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must start with a letter or digit and contain only letters, digits, ".", "_" and "-"');

/** Sandbox names also name a directory on the host: lowercase DNS-label style. */
export const sandboxName = z
  .string()
  .min(1, 'must not be empty')
  .max(63, 'must be at most 63 characters')
  .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/, 'must be lowercase letters, digits and "-", starting and ending with a letter or digit');

export const envKey = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment-variable style key');

/** Map of credential/config values; limits follow upstream (≤ 64 entries, values ≤ 8 KiB). */
export const stringMap = (max: number) =>
  z
    .record(envKey, z.string().max(8192, 'must be at most 8192 characters'))
    .refine((m) => Object.keys(m).length <= max, `must have at most ${max} entries`);

export const expiryMap = z.record(envKey, z.number().int('must be epoch milliseconds').min(0, 'must be 0 (no expiry) or epoch milliseconds'));

export const resourceVersion = z.number().int('must be an integer').positive('must be the resourceVersion you read (≥ 1)');

/** `?force=true|false`. */
export const booleanQuery = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');
