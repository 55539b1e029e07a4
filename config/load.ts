import * as fs from 'node:fs';
import * as path from 'node:path';
import { visit } from 'jsonc-parser';
import type { z } from 'zod';
import { resourceNameProblems, type ResourceNameProblem } from './naming';
import {
  boundText,
  ENVIRONMENTS,
  hasCloud,
  type CloudName,
  type WithCloud,
  environmentSchema,
  parserSchema,
  pipelineSchema,
  type EnvironmentConfig,
  type EnvironmentName,
  type ProjectConfig,
} from './schema';

/** One thing wrong with one config file, precise enough to fix without reading code. */
export interface ConfigProblem {
  file: string;
  /** Dotted key path inside the file, "(root)" for the whole document. */
  keyPath: string;
  message: string;
}

/**
 * Every problem of a config, listed at once. config/ imports nothing, so it cannot extend runtime/common's
 * MlstackError: it carries the catalogue code and exit code itself (runtime/common/errors.ts exitCodeFor).
 */
export class ConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly exitCode = 2;

  constructor(readonly problems: ConfigProblem[]) {
    super(
      `invalid configuration (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  ${p.file}: ${p.keyPath}: ${p.message}`).join('\n'),
    );
    this.name = 'ConfigError';
  }
}

export const DEFAULT_CONFIG_DIR = 'config';

function describe(value: unknown): string {
  if (value === undefined) return 'nothing (the key is missing)';
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function issueToProblem(file: string, issue: z.core.$ZodIssue): ConfigProblem {
  const keyPath = issue.path.length ? issue.path.map(String).join('.') : '(root)';
  const input = (issue as { input?: unknown }).input;
  let message: string;
  switch (issue.code) {
    case 'invalid_type':
      message = `expected ${issue.expected}, found ${describe(input)}`;
      break;
    case 'unrecognized_keys':
      message = `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}: remove or rename (see README "Configuration")`;
      break;
    case 'invalid_value':
      message = `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}, found ${describe(input)}`;
      break;
    case 'too_big':
    case 'too_small':
      message = `${boundText(issue) ?? issue.message}, found ${describe(input)}`;
      break;
    case 'custom':
      // A refinement's input is the whole object it checks: its message names the values itself.
      message = input === undefined || (typeof input === 'object' && input !== null) ? issue.message : `${issue.message}; found ${describe(input)}`;
      break;
    default:
      message = input === undefined ? issue.message : `${issue.message}; found ${describe(input)}`;
  }
  return { file, keyPath, message };
}

function readJson(file: string, problems: ConfigProblem[]): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    problems.push({
      file,
      keyPath: '(root)',
      message: code === 'ENOENT' ? 'file not found: create it (see README "Configuration")' : `cannot read: ${String(err)}`,
    });
    return undefined;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    problems.push({ file, keyPath: '(root)', message: `not valid JSON: ${(err as Error).message}` });
    return undefined;
  }
  problems.push(...duplicateKeys(file, text));
  return value;
}

/**
 * Keys given twice in one object, anywhere in the document: JSON.parse keeps the last silently (a second
 * `field_mappings` entry for one source field replaced the first), so each is a problem naming both lines.
 */
export function duplicateKeys(file: string, text: string): ConfigProblem[] {
  const found: ConfigProblem[] = [];
  const objects: Map<string, number>[] = [];
  visit(text, {
    onObjectBegin: () => {
      objects.push(new Map());
    },
    onObjectEnd: () => {
      objects.pop();
    },
    onObjectProperty: (property, _offset, _length, startLine, _startCharacter, pathSupplier) => {
      const seen = objects[objects.length - 1];
      const line = startLine + 1;
      const first = seen.get(property);
      if (first === undefined) {
        seen.set(property, line);
        return;
      }
      found.push({
        file,
        keyPath: [...pathSupplier(), property].map(String).join('.'),
        message: `duplicate key "${property}" on lines ${first} and ${line}: JSON keeps only the last one silently; remove or rename one`,
      });
    },
  });
  return found;
}

function parseFile<S extends z.ZodType>(schema: S, file: string, problems: ConfigProblem[]): z.infer<S> | undefined {
  const raw = readJson(file, problems);
  if (raw === undefined) return undefined;
  const result = schema.safeParse(raw, { reportInput: true });
  if (!result.success) {
    problems.push(...result.error.issues.map((i) => issueToProblem(file, i)));
    return undefined;
  }
  return result.data;
}

export function isEnvironmentName(name: string): name is EnvironmentName {
  return (ENVIRONMENTS as readonly string[]).includes(name);
}

/** Throws a ConfigError naming the accepted environments when `name` is not one of them. */
export function assertEnvironmentName(name: string): EnvironmentName {
  if (!isEnvironmentName(name)) {
    throw new ConfigError([
      { file: '--env', keyPath: '(root)', message: `unknown environment "${name}": expected one of ${ENVIRONMENTS.join(', ')}` },
    ]);
  }
  return name;
}

/**
 * Loads and validates every file under `dir`, collecting all problems before
 * throwing one ConfigError, so a user fixes them in one pass.
 */
export function loadProjectConfig(dir: string = DEFAULT_CONFIG_DIR): ProjectConfig {
  const root = path.resolve(dir);
  const rel = (f: string) => path.relative(process.cwd(), f) || f;
  const problems: ConfigProblem[] = [];
  const pipelineFile = path.join(root, 'pipeline.json');
  const parserFile = path.join(root, 'parser.json');
  const pipeline = parseFile(pipelineSchema, pipelineFile, problems);
  const parser = parseFile(parserSchema, parserFile, problems);

  const environments: Partial<Record<EnvironmentName, EnvironmentConfig>> = {};
  const envDir = path.join(root, 'environments');
  for (const name of ENVIRONMENTS) {
    const file = path.join(envDir, `${name}.json`);
    const env = parseFile(environmentSchema, file, problems);
    if (!env) continue;
    if (env.name !== name) {
      problems.push({ file: rel(file), keyPath: 'name', message: `expected "${name}" (the file name), found "${env.name}"` });
      continue;
    }
    environments[name] = env;
  }
  if (fs.existsSync(envDir)) {
    for (const entry of fs.readdirSync(envDir)) {
      const base = entry.replace(/\.json$/, '');
      if (entry.endsWith('.json') && !isEnvironmentName(base)) {
        problems.push({
          file: rel(path.join(envDir, entry)),
          keyPath: '(root)',
          message: `unknown environment "${base}": expected one of ${ENVIRONMENTS.join(', ')}`,
        });
      }
    }
  }

  if (pipeline && parser) {
    for (const [field, key] of [
      ...pipeline.features.map((f, i) => [f, `features.${i}`] as const),
      [pipeline.target, 'target'] as const,
    ]) {
      if (!parser.selected_fields.includes(field)) {
        problems.push({
          file: rel(pipelineFile),
          keyPath: key,
          message: `"${field}" is not produced by ingestion: add it to selected_fields in ${rel(parserFile)}`,
        });
      }
    }
  }

  // Without a valid pipeline.json only the names the environments' files give are checked.
  const names = ENVIRONMENTS.flatMap((name) => (environments[name] ? resourceNameProblems(pipeline, environments[name]).map((n) => ({ ...n, env: name })) : []));
  problems.push(...nameProblems(names, pipelineFile, (env) => path.join(envDir, `${env}.json`)));

  for (const p of problems) p.file = rel(p.file);
  if (problems.length > 0 || !pipeline || !parser) throw new ConfigError(problems);
  return { dir: root, pipeline, parser, environments: environments as Record<EnvironmentName, EnvironmentConfig> };
}

/**
 * Names a cloud would refuse, as config problems: a name the environment's file gives is reported at its key;
 * names derived from pipeline.json (project, endpoint_name) are reported there, one problem per kind of resource.
 */
function nameProblems(
  found: (ResourceNameProblem & { env: EnvironmentName })[],
  pipelineFile: string,
  envFile: (env: EnvironmentName) => string,
): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const derived = new Map<string, (ResourceNameProblem & { env: EnvironmentName })[]>();
  for (const n of found) {
    if (n.source.file === 'environment') {
      problems.push({ file: envFile(n.env), keyPath: n.source.keyPath, message: `"${n.value}" is not a valid ${n.resource} name: ${n.rule.rule}` });
    } else {
      const group = `${n.source.keyPath}\0${n.resource}\0${n.rule.rule}`;
      derived.set(group, [...(derived.get(group) ?? []), n]);
    }
  }
  for (const names of derived.values()) {
    const { source, resource, rule } = names[0];
    const shown = names.slice(0, 3).map((n) => `"${n.value}" (${n.env})`).join(', ');
    const more = names.length > 3 ? ` and ${names.length - 3} more` : '';
    problems.push({
      file: pipelineFile,
      keyPath: source.keyPath,
      message: `the ${resource} name${names.length > 1 ? 's' : ''} derived from it break${names.length > 1 ? '' : 's'} the rule (${rule.rule}): ${shown}${more}; shorten or change ${source.keyPath}`,
    });
  }
  return problems;
}

/** The environment narrowed to one cloud; a ConfigError naming the file and what to do when it has no such section. */
export function requireCloud<C extends CloudName>(env: EnvironmentConfig, cloud: C): WithCloud<C> {
  if (hasCloud(env, cloud)) return env;
  throw new ConfigError([
    {
      file: `config/environments/${env.name}.json`,
      keyPath: cloud,
      message: `environment ${env.name} configures no ${cloud} section: add one (see README "Configuration") or use another --cloud`,
    },
  ]);
}
