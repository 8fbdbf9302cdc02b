/**
 * `@openshell/core/yaml`: parse and validate provider profiles written in YAML (the built-in
 * `providers/*.yaml` at build time, and admins' own `--profiles-dir` at gateway start). This is the
 * only module of core that needs the `yaml` package (an optional peer dependency).
 */
import { type Document, LineCounter, parseAllDocuments } from 'yaml';
import {
  formatProfilePath,
  invalidProfileError,
  type ProfileProblem,
  validateProfileSet,
} from '../profile-validation.js';
import type { ProviderProfile } from '../provider-profile.js';

/** A YAML file to parse: its name (shown in every problem) and its text. */
export interface YamlProfileFile {
  readonly name: string;
  readonly text: string;
}

/** The profiles that are valid and every problem found (each with its file, path and line). */
export interface YamlProfileValidation {
  readonly profiles: readonly ProviderProfile[];
  readonly problems: readonly ProfileProblem[];
}

const MAX_PROFILE_BYTES = 256 * 1024;

interface Loaded {
  readonly value?: unknown;
  readonly problems: readonly ProfileProblem[];
  readonly lineOf: (segments: readonly (string | number)[]) => number | undefined;
}

function fileProblem(source: string, message: string, line?: number): ProfileProblem {
  return { source, path: '(root)', segments: [], message, ...(line === undefined ? {} : { line }) };
}

/** The 1-based line of the deepest node on the path of `segments` that exists in the document. */
function lineFinder(doc: Document.Parsed, lines: LineCounter) {
  return (segments: readonly (string | number)[]): number | undefined => {
    for (let n = segments.length; n >= 0; n--) {
      const node = n === 0 ? doc.contents : doc.getIn(segments.slice(0, n), true);
      const range = (node as { range?: readonly [number, number, number] } | null | undefined)?.range;
      if (range) return lines.linePos(range[0]).line;
    }
    return undefined;
  };
}

function load(file: YamlProfileFile): Loaded {
  const none = () => undefined;
  if (file.text.length > MAX_PROFILE_BYTES) {
    return { problems: [fileProblem(file.name, `file is larger than ${MAX_PROFILE_BYTES} bytes; a provider profile is a few dozen lines`)], lineOf: none };
  }
  const lines = new LineCounter();
  const parsed = parseAllDocuments(file.text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const docs = Array.isArray(parsed) ? parsed : [];
  const nonEmpty = docs.filter((d) => d.contents !== null || d.errors.length > 0);
  if (nonEmpty.length === 0) {
    return { problems: [fileProblem(file.name, 'file holds no YAML document; write one provider profile (id, display_name, credentials, …)')], lineOf: none };
  }
  if (nonEmpty.length > 1) {
    const second = nonEmpty[1]!;
    const line = second.range ? lines.linePos(second.range[0]).line : undefined;
    return {
      problems: [fileProblem(file.name, `file holds ${nonEmpty.length} YAML documents; put one provider profile per file`, line)],
      lineOf: none,
    };
  }
  const doc = nonEmpty[0]!;
  if (doc.errors.length > 0) {
    return {
      problems: doc.errors.map((e) => fileProblem(file.name, `YAML syntax error: ${e.message}`, lines.linePos(e.pos[0]).line)),
      lineOf: none,
    };
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 50 });
  } catch (err) {
    return { problems: [fileProblem(file.name, `YAML could not be loaded: ${(err as Error).message}`)], lineOf: none };
  }
  return { value, problems: [], lineOf: lineFinder(doc, lines) };
}

/**
 * Parses and validates YAML provider profiles. Never throws: returns the valid profiles (sorted by id)
 * and every problem, each naming its file, path, line and what to fix; duplicate ids across files
 * are problems too.
 */
export function validateProviderProfileYamlFiles(files: readonly YamlProfileFile[]): YamlProfileValidation {
  const problems: ProfileProblem[] = [];
  const entries: { source: string; profile: unknown }[] = [];
  const lineOf = new Map<string, Loaded['lineOf']>();
  for (const file of files) {
    const loaded = load(file);
    problems.push(...loaded.problems);
    if (loaded.problems.length === 0) {
      entries.push({ source: file.name, profile: loaded.value });
      lineOf.set(file.name, loaded.lineOf);
    }
  }
  const set = validateProfileSet(entries);
  for (const p of set.problems) {
    const line = p.source === undefined ? undefined : lineOf.get(p.source)?.(p.segments);
    problems.push(line === undefined ? p : { ...p, line });
  }
  return { profiles: set.profiles, problems };
}

/**
 * Parses and validates YAML provider profiles; throws `invalid_profile` listing every problem
 * (file, line, path, fix) when any file is invalid. Returns the profiles sorted by id.
 */
export function parseProviderProfileYamlFiles(files: readonly YamlProfileFile[]): readonly ProviderProfile[] {
  const { profiles, problems } = validateProviderProfileYamlFiles(files);
  if (problems.length > 0) throw invalidProfileError(problems);
  return profiles;
}

/** Parses and validates one YAML provider profile; throws `invalid_profile` listing every problem. */
export function parseProviderProfileYaml(text: string, sourceName: string): ProviderProfile {
  const [profile] = parseProviderProfileYamlFiles([{ name: sourceName, text }]);
  return profile!;
}

export { formatProfilePath };
