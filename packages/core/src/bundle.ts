import { z } from 'zod';
import { CoreError } from './errors.js';

/** The only bundle schema version this build understands. */
export const BUNDLE_SCHEMA_VERSION = 1 as const;

/** Auth styles a supervisor knows how to apply. */
export const BUNDLE_AUTH_STYLES = ['bearer', 'header', 'none'] as const;
/** Merge rules a supervisor knows how to apply. */
export const BUNDLE_MERGE_RULES = ['list', 'replace'] as const;

const headerName = z
  .string()
  .min(1)
  .regex(/^[!#$%&'*+.^_`|~0-9a-z-]+$/, 'must be a lowercase HTTP header token');
const headerValue = z.string().regex(/^[^\r\n\0]*$/, 'must not contain CR, LF or NUL');

const requiredHeaderSchema = z.object({
  name: headerName,
  value: headerValue.min(1),
  merge: z.enum(BUNDLE_MERGE_RULES),
});

/** Timeouts of one route, in milliseconds. */
const timeoutsSchema = z.object({
  connectMs: z.number().int().positive(),
  firstByteMs: z.number().int().positive(),
  idleMs: z.number().int().positive(),
});

const routeSchema = z.object({
  /** Route name; sandbox clients reach the route named `inference.local`. */
  name: z.string().min(1),
  providerName: z.string().min(1),
  providerType: z.string().min(1),
  baseUrl: z.url({ protocol: /^https?$/ }),
  protocols: z.array(z.string().min(1)).min(1),
  model: z.string().min(1).optional(),
  /** Vertex-style routes put the model in the URL path instead of the body. */
  modelInPath: z.boolean().optional(),
  /**
   * Replaces the protocol path upstream: a fixed path (`/…`), or a method suffix appended to the
   * model in the path (`:rawPredict`, Vertex Anthropic routes with `modelInPath`).
   */
  requestPathOverride: z
    .string()
    .regex(/^(?:\/|:)[^\s?#]*$/, "must start with '/' (a path) or ':' (a method suffix such as :rawPredict), without spaces, query or fragment")
    .optional(),
  timeouts: timeoutsSchema,
  auth: z.object({
    style: z.enum(BUNDLE_AUTH_STYLES),
    /** Header that carries the credential: `authorization` for bearer, e.g. `x-api-key` for header. */
    headerName: headerName.optional(),
    /** The credential itself. Only a sandbox's own supervisor ever receives it. */
    value: headerValue,
  }),
  headerPolicy: z.object({
    required: z.array(requiredHeaderSchema),
    defaults: z.record(headerName, headerValue),
    passthrough: z.array(z.string().min(1)),
  }),
  credential: z.object({
    fingerprint: z.string(),
    /** Epoch milliseconds after which the credential must not be sent. */
    expiresAt: z.number().int().positive().optional(),
    refreshable: z.boolean(),
  }),
  clientEnv: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()),
});

const egressSchema = z.object({ host: z.string().min(1), port: z.number().int().min(1).max(65535) });

/** zod schema of the gateway → supervisor route bundle (DESIGN §3.5). */
export const routeBundleSchema = z.object({
  schemaVersion: z.literal(BUNDLE_SCHEMA_VERSION),
  revision: z.string().min(1),
  routes: z.array(routeSchema),
  egress: z.array(egressSchema),
});

/** A parsed gateway → supervisor route bundle. */
export type RouteBundle = z.infer<typeof routeBundleSchema>;
/** One route of a bundle: where to send, how to authenticate, which headers to apply. */
export type BundleRoute = z.infer<typeof routeSchema>;
/** A header every request of a route carries, with its merge rule. */
export type BundleRequiredHeader = z.infer<typeof requiredHeaderSchema>;
/** A host:port a sandbox may open a CONNECT tunnel to. */
export type EgressRule = z.infer<typeof egressSchema>;
export { routeSchema as bundleRouteSchema };

function describePath(path: readonly PropertyKey[]): string {
  return path.length === 0 ? '(root)' : path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '');
}

/**
 * Parses a route bundle and fails closed: an unknown `schemaVersion`, auth style or merge rule is
 * refused with an `unsupported_bundle` error naming what was not understood (a stale supervisor must
 * never silently drop headers); any other problem is `invalid_bundle` listing every issue.
 */
export function parseRouteBundle(input: unknown): RouteBundle {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new CoreError('invalid_bundle', 'route bundle must be a JSON object');
  }
  const raw = input as Record<string, unknown>;
  if (raw.schemaVersion !== BUNDLE_SCHEMA_VERSION) {
    throw new CoreError(
      'unsupported_bundle',
      `route bundle schemaVersion ${JSON.stringify(raw.schemaVersion)} is not supported by this supervisor (it understands ${BUNDLE_SCHEMA_VERSION}); upgrade the supervisor to match the gateway`,
      { details: { schemaVersion: raw.schemaVersion } },
    );
  }
  // Look for unknown enum values first so they get the fail-closed message, not a generic one.
  const routes = Array.isArray(raw.routes) ? raw.routes : [];
  routes.forEach((r, i) => {
    if (typeof r !== 'object' || r === null) return;
    const route = r as Record<string, unknown>;
    const name = typeof route.name === 'string' ? route.name : `#${i}`;
    const auth = route.auth as Record<string, unknown> | undefined;
    const style = auth?.style;
    if (typeof style === 'string' && !(BUNDLE_AUTH_STYLES as readonly string[]).includes(style)) {
      throw new CoreError(
        'unsupported_bundle',
        `route '${name}' uses auth style '${style}', which this supervisor does not understand (known: ${BUNDLE_AUTH_STYLES.join(', ')}); refusing the route rather than sending it without credentials — upgrade the supervisor`,
        { details: { route: name, authStyle: style } },
      );
    }
    const policy = route.headerPolicy as Record<string, unknown> | undefined;
    const required = Array.isArray(policy?.required) ? policy.required : [];
    for (const h of required) {
      const merge = (h as Record<string, unknown> | null)?.merge;
      if (typeof merge === 'string' && !(BUNDLE_MERGE_RULES as readonly string[]).includes(merge)) {
        throw new CoreError(
          'unsupported_bundle',
          `route '${name}' requires header '${String((h as Record<string, unknown>).name)}' with merge rule '${merge}', which this supervisor does not understand (known: ${BUNDLE_MERGE_RULES.join(', ')}); refusing the route rather than dropping the header — upgrade the supervisor`,
          { details: { route: name, merge } },
        );
      }
    }
  });
  const result = routeBundleSchema.safeParse(input);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${describePath(i.path)}: ${i.message}`);
    throw new CoreError('invalid_bundle', `route bundle is invalid: ${problems.join('; ')}`, {
      details: { problems },
    });
  }
  return result.data;
}
