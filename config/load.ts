import * as fs from 'node:fs';
import * as path from 'node:path';
import type { z } from 'zod';
import {
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

export class ConfigError extends Error {
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
  try {
    return JSON.parse(text);
  } catch (err) {
    problems.push({ file, keyPath: '(root)', message: `not valid JSON: ${(err as Error).message}` });
    return undefined;
  }
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

  for (const p of problems) p.file = rel(p.file);
  if (problems.length > 0 || !pipeline || !parser) throw new ConfigError(problems);
  return { dir: root, pipeline, parser, environments: environments as Record<EnvironmentName, EnvironmentConfig> };
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
