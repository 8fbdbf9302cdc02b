import type { CoreErrorCode } from './errors.js';

/** What an error code means and how to fix it (the source of docs/reference/errors.mdx). */
export interface ErrorCodeDoc {
  readonly description: string;
  readonly fix: string;
}

/** Every error code @openshell/core raises, documented. A test checks none is missing. */
export const CORE_ERROR_CODES: { readonly [C in CoreErrorCode]: ErrorCodeDoc } = {
  unsupported_provider_type: {
    description: 'A provider type is neither a known type, an alias of one, nor the id of a loaded profile.',
    fix: 'Use one of the types the message lists (or an alias such as claude-plan), or add a profile with that id to the gateway\'s --profiles-dir.',
  },
  invalid_profile: {
    description: 'A provider profile (built-in YAML or an admin\'s own) breaks the profile schema; every problem is listed with its file, line and path.',
    fix: 'Fix each listed field as its message says, then restart the gateway (or rebuild core for built-in profiles).',
  },
  duplicate_environment_key: {
    description: 'Two providers bound to one sandbox both supply the same environment key, so the sandbox could not tell which value to use.',
    fix: 'Bind only one of the two named providers to the sandbox, or store the credential under a different key in one of them.',
  },
  invalid_bundle: {
    description: 'A route bundle from the gateway is malformed (wrong types, bad URL, CR/LF in a header value, …).',
    fix: 'Check that the gateway and supervisor come from the same release; the message lists every field that failed.',
  },
  unsupported_bundle: {
    description: 'A route bundle uses a schema version, auth style or merge rule this supervisor does not understand; the route is refused rather than sent without its headers.',
    fix: 'Upgrade the supervisor (openshell-supervisor / the CLI) to the gateway\'s version.',
  },
  invalid_credential_file: {
    description: 'A credential file (such as Claude Code\'s .credentials.json) is not in the expected format or lacks a field.',
    fix: 'Log in again with the tool that wrote the file (e.g. `claude /login`), or pass the credential another way; the message names the missing field.',
  },
};
