// `node --import ./trace-imports.mjs bin/openshell.js ...` prints every module URL the process resolves to
// stderr as `[import] URL`: the startup test uses it to prove --version and --help stay lean.
import { register } from 'node:module';

const hooks = `
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  process.stderr.write('[import] ' + result.url + '\\n');
  return result;
}`;
register(`data:text/javascript,${encodeURIComponent(hooks)}`, import.meta.url);
