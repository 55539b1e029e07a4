/**
 * GitOps promotion: a model reaches an environment through a pull request that
 * pins its version in config/environments/<env>.json. The branch and commit are
 * built with git plumbing on top of the freshly fetched base branch, so the
 * user's checkout (and any uncommitted work in it) is never touched.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { z } from 'zod';
import { ConfigError, type ConfigProblem } from '../../config/load';
import {
  CLOUDS,
  ENVIRONMENTS,
  environmentSchema,
  pipelineSchema,
  type EnvironmentConfig,
  type EnvironmentName,
  type PipelineConfig,
} from '../../config/schema';
import { unifiedDiff } from './diff';
import { checkMetricGates, checkOrderGate, describeMetricFailure, type GateFailure, type MetricGateResult } from './gates';
import { Git } from './git';
import { compareUrl, openPullRequest, parseRepoOption, parseRepoSlug, type OpenedPullRequest, type RepoSlug } from './github';
import { replaceJsonValues, type JsonValueEdit } from './json-edit';
import { loadModelVersion, type ModelVersionRecord, type RegistryLocation } from './model-source';

export interface PromoteOptions {
  /** Registry version to pin. */
  version: string;
  target: EnvironmentName;
  registry: RegistryLocation;
  /** A folder inside the git repository. @default process.cwd() */
  repoDir?: string;
  /** Configuration folder, relative to repoDir. @default "config" */
  configDir?: string;
  /** New image_tag for every cloud section; unchanged when omitted. */
  imageTag?: string;
  /** Override failed gates; needs `reason`, which is recorded in the commit. */
  force?: boolean;
  reason?: string;
  /** Waive the order gate for a version this environment pinned before (found in the base branch's history). */
  rollback?: boolean;
  /** Print the diff only: no branch, commit, push or pull request. */
  dryRun?: boolean;
  /** @default "origin" */
  remote?: string;
  /** @default "main" */
  base?: string;
  /** owner/name on GitHub; parsed from the remote URL when omitted. */
  repo?: string;
  /** GITHUB_TOKEN, GITHUB_API_URL, GITHUB_SERVER_URL are read from here. @default process.env */
  env?: NodeJS.ProcessEnv;
}

export interface PromotionResult {
  branch: string;
  /** The file the promotion edits, relative to the repository root. */
  file: string;
  diff: string;
  /** The commit message (also the pull request's body source). */
  message: string;
  dryRun: boolean;
  model: ModelVersionRecord;
  previousVersion: string | null;
  metricGates: MetricGateResult[];
  /** Gate failures that --force overrode (empty when every gate passed). */
  overridden: GateFailure[];
  /** Set unless dryRun. */
  commit?: string;
  pullRequest?: OpenedPullRequest;
  /** When no GITHUB_TOKEN is set: where to open the pull request by hand. */
  compareUrl?: string;
  /** Human-readable next steps. */
  notes: string[];
}

/** A gate or precondition refused the promotion; the message names what and how to proceed. */
export class PromotionRefusedError extends Error {
  constructor(
    message: string,
    readonly failures: GateFailure[] = [],
  ) {
    super(message);
    this.name = 'PromotionRefusedError';
  }
}

export function promotionBranch(target: EnvironmentName, version: string): string {
  return `promote/${target}/${version}`;
}

interface BaseSnapshot {
  commit: string;
  pipeline: PipelineConfig;
  environments: Record<EnvironmentName, EnvironmentConfig>;
  targetText: string;
}

function parseAt<S extends z.ZodType>(schema: S, text: string, file: string): z.infer<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([{ file, keyPath: '(root)', message: `not valid JSON: ${(err as Error).message}` }]);
  }
  const result = schema.safeParse(raw);
  if (!result.success) {
    const problems: ConfigProblem[] = result.error.issues.map((issue) => ({
      file,
      keyPath: issue.path.length ? issue.path.map(String).join('.') : '(root)',
      message: issue.message,
    }));
    throw new ConfigError(problems);
  }
  return result.data;
}

async function readBase(git: Git, commit: string, configPath: string, target: EnvironmentName): Promise<BaseSnapshot> {
  const show = async (file: string) => {
    const text = await git.tryRun(['show', `${commit}:${file}`]);
    if (text === null) throw new ConfigError([{ file, keyPath: '(root)', message: `not found on the base branch (commit ${commit.slice(0, 12)})` }]);
    return text;
  };
  const pipelineFile = path.posix.join(configPath, 'pipeline.json');
  const pipeline = parseAt(pipelineSchema, await show(pipelineFile), pipelineFile);
  const environments = {} as Record<EnvironmentName, EnvironmentConfig>;
  let targetText = '';
  for (const name of ENVIRONMENTS) {
    const file = envFile(configPath, name);
    const text = await show(file);
    environments[name] = parseAt(environmentSchema, text, file);
    if (name === target) targetText = text;
  }
  return { commit, pipeline, environments, targetText };
}

function envFile(configPath: string, env: EnvironmentName): string {
  return path.posix.join(configPath, 'environments', `${env}.json`);
}

/** True when the environment's file pinned `version` in some earlier commit of the base branch. */
async function wasPinnedBefore(git: Git, commit: string, file: string, version: string): Promise<boolean> {
  const shas = (await git.run(['log', '--format=%H', '-n', '500', commit, '--', file])).split('\n').filter(Boolean);
  for (const sha of shas) {
    const text = await git.tryRun(['show', `${sha}:${file}`]);
    if (text === null) continue;
    try {
      if ((JSON.parse(text) as { model_version?: unknown }).model_version === version) return true;
    } catch {
      // an unparsable historic version cannot have pinned it
    }
  }
  return false;
}

function lineageLines(model: ModelVersionRecord): string[] {
  const l = model.lineage;
  const value = (v: string | null | undefined) => (v === undefined || v === null || v === '' ? '(not recorded)' : v);
  return [
    `  data hash:    ${value(l.data_hash)}`,
    `  config hash:  ${value(l.config_hash)}`,
    `  code version: ${value(l.code_version)}`,
    `  run id:       ${value(l.run_id)}`,
    `  parent run:   ${value(l.parent_run)}`,
    `  data:         ${value(l.data_uri)}`,
  ];
}

function commitMessage(input: {
  model: ModelVersionRecord;
  target: EnvironmentName;
  previous: string | null;
  imageTag: string | undefined;
  metricGates: MetricGateResult[];
  overridden: GateFailure[];
  reason: string | undefined;
  rollback: boolean;
}): string {
  const { model, target } = input;
  const gateFor = new Map(input.metricGates.map((g) => [g.metric, g]));
  const metricNames = [...new Set([...Object.keys(model.metrics), ...gateFor.keys()])].sort();
  const metrics = metricNames.map((name) => {
    const gate = gateFor.get(name);
    const value = model.metrics[name];
    const gateText = gate ? ` (gate ${gate.comparison} ${gate.threshold}: ${gate.passed ? 'passed' : 'FAILED'})` : '';
    return `  ${name}: ${value === undefined ? '(missing)' : value}${gateText}`;
  });
  const lines = [
    `${input.rollback ? 'Roll back' : 'Promote'} ${model.project} model ${model.version} to ${target}`,
    '',
    `Pins model_version ${model.version} in config/environments/${target}.json (was ${input.previous ?? 'none'}).`,
    input.imageTag ? `Sets image_tag to ${input.imageTag} for ${CLOUDS.join(', ')}.` : 'Leaves image_tag unchanged.',
    '',
    'Model:',
    `  version:      ${model.version}`,
    `  created at:   ${model.created_at ?? '(not recorded)'}`,
    `  package:      ${model.package_uri ?? '(not recorded)'}`,
    '',
    'Lineage:',
    ...lineageLines(model),
    '',
    'Metrics:',
    ...(metrics.length ? metrics : ['  (none recorded)']),
    '',
  ];
  if (input.overridden.length) {
    lines.push('Gates: FORCED past these failures:', ...input.overridden.map((f) => `  - ${f.message}`), `Force reason: ${input.reason}`, '');
  } else {
    lines.push(input.rollback ? 'Gates: metric gates passed; order gate waived (rollback to a version pinned here before).' : 'Gates: all passed.', '');
  }
  lines.push(`Promoted-Model: ${model.version}`, `Promoted-Environment: ${target}`);
  if (input.overridden.length) lines.push(`Promotion-Forced: ${input.reason}`);
  if (input.rollback) lines.push('Promotion-Rollback: true');
  return lines.join('\n') + '\n';
}

function pullRequestBody(message: string, diff: string, target: EnvironmentName, previous: string | null): string {
  const [, ...body] = message.split('\n');
  const rollback = previous
    ? `To roll back after merging: \`npx mlstack promote --model ${previous} --to ${target} --rollback\`, or revert this pull request's merge commit.`
    : `To roll back after merging: revert this pull request's merge commit.`;
  return ['```text', body.join('\n').trim(), '```', '', '```diff', diff.trimEnd(), '```', '', rollback, ''].join('\n');
}

/** Resolves the git path of `configDir` (relative to the repository root, forward slashes). */
async function configPathInRepo(git: Git, repoDir: string, configDir: string): Promise<string> {
  const top = (await git.run(['rev-parse', '--show-toplevel'])).trim();
  const rel = path.relative(fs.realpathSync(top), fs.realpathSync.native(path.resolve(repoDir))).split(path.sep).join('/');
  return path.posix.normalize(path.posix.join(rel || '.', configDir.split(path.sep).join('/')));
}

/**
 * Checks the gates, then (unless dryRun) commits the pinned version on
 * `promote/<env>/<version>`, pushes it and opens the pull request.
 * Throws PromotionRefusedError when a gate fails without --force.
 */
export async function promote(options: PromoteOptions): Promise<PromotionResult> {
  const repoDir = path.resolve(options.repoDir ?? process.cwd());
  const remote = options.remote ?? 'origin';
  const base = options.base ?? 'main';
  const env = options.env ?? process.env;
  const target = options.target;
  if (options.force && !options.reason?.trim()) {
    throw new PromotionRefusedError('--force needs --reason "<why>": the reason is recorded in the commit and the pull request');
  }
  const git = new Git(repoDir);
  const configPath = await configPathInRepo(git, repoDir, options.configDir ?? 'config');

  await git.run(['fetch', '--quiet', '--no-write-fetch-head', remote, `+refs/heads/${base}:refs/remotes/${remote}/${base}`]);
  const baseCommit = (await git.run(['rev-parse', '--verify', `refs/remotes/${remote}/${base}^{commit}`])).trim();
  const snapshot = await readBase(git, baseCommit, configPath, target);
  const project = snapshot.pipeline.project;
  const model = await loadModelVersion(options.registry, project, options.version);
  if (model.project !== project) {
    throw new PromotionRefusedError(`registry record ${options.version} belongs to project "${model.project}", not "${project}" (config/pipeline.json)`);
  }

  const pinned = Object.fromEntries(ENVIRONMENTS.map((e) => [e, snapshot.environments[e].model_version])) as Record<EnvironmentName, string | null>;
  const previous = pinned[target];
  const file = envFile(configPath, target);

  const metricGates = checkMetricGates(model.metrics, snapshot.pipeline.promotion_gates);
  const failures: GateFailure[] = metricGates
    .filter((g) => !g.passed)
    .map((g) => ({ gate: 'metric' as const, message: describeMetricFailure(g, model.version) }));
  const rollback = options.rollback === true;
  if (rollback) {
    if (!(await wasPinnedBefore(git, baseCommit, file, model.version))) {
      throw new PromotionRefusedError(
        `--rollback: ${target} never pinned ${model.version} on ${remote}/${base} (git log -- ${file}); ` +
          'a rollback goes back to a version this environment ran before',
      );
    }
  } else {
    const order = checkOrderGate(target, model.version, pinned);
    if (order) failures.push(order);
  }
  if (failures.length && !options.force) {
    throw new PromotionRefusedError(
      `refusing to promote ${model.version} to ${target}:\n` +
        failures.map((f) => `  - ${f.message}`).join('\n') +
        '\n  (override only with --force --reason "<why>"; the reason is recorded in the commit)',
      failures,
    );
  }

  const edits: JsonValueEdit[] = [{ path: ['model_version'], value: model.version }];
  if (options.imageTag !== undefined) {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(options.imageTag)) {
      throw new PromotionRefusedError(`--image-tag "${options.imageTag}" is not a valid image tag (letters, digits, _ . -; at most 128)`);
    }
    for (const cloud of CLOUDS) edits.push({ path: [cloud, 'image_tag'], value: options.imageTag });
  }
  const newText = replaceJsonValues(snapshot.targetText, edits, file);
  parseAt(environmentSchema, newText, file);
  const diff = unifiedDiff(snapshot.targetText, newText, file);
  if (diff === '') {
    throw new PromotionRefusedError(`${target} already pins ${model.version}${options.imageTag ? ` with image tag ${options.imageTag}` : ''} on ${remote}/${base}: nothing to promote`);
  }

  const branch = promotionBranch(target, model.version);
  const message = commitMessage({
    model,
    target,
    previous,
    imageTag: options.imageTag,
    metricGates,
    overridden: options.force ? failures : [],
    reason: options.reason?.trim(),
    rollback,
  });
  const result: PromotionResult = {
    branch,
    file,
    diff,
    message,
    dryRun: options.dryRun === true,
    model,
    previousVersion: previous,
    metricGates,
    overridden: options.force ? failures : [],
    notes: [],
  };
  if (options.dryRun) {
    result.notes.push(`dry run: would commit on ${branch} from ${remote}/${base} (${baseCommit.slice(0, 12)}) and open a pull request`);
    return result;
  }

  if ((await git.tryRun(['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`])) !== null) {
    throw new PromotionRefusedError(`branch ${branch} already exists locally: a promotion of ${model.version} to ${target} was started; delete it (git branch -D ${branch}) to start again`);
  }
  if ((await git.run(['ls-remote', '--heads', remote, `refs/heads/${branch}`])).trim() !== '') {
    throw new PromotionRefusedError(`branch ${branch} already exists on ${remote}: a pull request for this promotion is probably open; merge or close it first`);
  }

  result.commit = await commitFile(git, baseCommit, file, newText, message);
  await git.run(['update-ref', `refs/heads/${branch}`, result.commit, '']);
  await git.run(['push', '--quiet', remote, `refs/heads/${branch}:refs/heads/${branch}`]);
  result.notes.push(`pushed ${branch} to ${remote} (commit ${result.commit.slice(0, 12)})`);

  const slug = await resolveSlug(git, remote, options.repo);
  const token = env.GITHUB_TOKEN;
  if (token && slug) {
    result.pullRequest = await openPullRequest({
      slug,
      token,
      apiUrl: env.GITHUB_API_URL,
      base,
      head: branch,
      title: message.split('\n')[0],
      body: pullRequestBody(message, diff, target, previous),
      labels: ['promotion', `env:${target}`],
    });
    result.notes.push(`opened pull request #${result.pullRequest.number}: ${result.pullRequest.url}`);
    if (result.pullRequest.labelWarning) result.notes.push(result.pullRequest.labelWarning);
  } else if (slug) {
    result.compareUrl = compareUrl(slug, base, branch, env.GITHUB_SERVER_URL);
    result.notes.push(`GITHUB_TOKEN is not set: open the pull request at ${result.compareUrl}`);
  } else {
    result.notes.push(
      `${token ? 'GITHUB_TOKEN is set but ' : ''}the remote "${remote}" is not a GitHub URL and no --repo owner/name was given: ` +
        `open a pull request from ${branch} into ${base} by hand`,
    );
  }
  return result;
}

async function resolveSlug(git: Git, remote: string, repo: string | undefined): Promise<RepoSlug | null> {
  if (repo) return parseRepoOption(repo);
  const url = await git.tryRun(['remote', 'get-url', remote]);
  return url === null ? null : parseRepoSlug(url);
}

/** Writes one file's new content on top of `parent` with a private index, returning the new commit. */
async function commitFile(git: Git, parent: string, file: string, content: string, message: string): Promise<string> {
  const indexDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-promote-'));
  const env = { GIT_INDEX_FILE: path.join(indexDir, 'index') };
  try {
    const blob = (await git.run(['hash-object', '-w', '--stdin', `--path=${file}`], { input: content })).trim();
    await git.run(['read-tree', parent], { env });
    await git.run(['update-index', '--add', '--cacheinfo', `100644,${blob},${file}`], { env });
    const tree = (await git.run(['write-tree'], { env })).trim();
    return (await git.run(['commit-tree', tree, '-p', parent, '-F', '-'], { input: message })).trim();
  } finally {
    fs.rmSync(indexDir, { recursive: true, force: true });
  }
}
