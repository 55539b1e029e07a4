/**
 * GitOps promotion: a model reaches an environment through a pull request that
 * pins its version in config/environments/<env>.json. promote() reads the base branch
 * and the registry, planPromotion decides (pure), applyPromotion writes (git, GitHub).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '../../config/load';
import { ENVIRONMENTS, environmentSchema, pipelineSchema, type EnvironmentName } from '../../config/schema';
import { applyPromotion, planResult, type PromotionResult } from './apply';
import { Git } from './git';
import { loadModelVersion, type RegistryLocation } from './model-source';
import { parseAt, planPromotion, requireForceReason, type PromotionInput } from './plan';
import { verifyPromotedVersion } from './verify';

export { planPromotion, promotionBranch, PromotionRefusedError, type PromotionInput, type PromotionPlan } from './plan';
export { applyPromotion, type PromotionIo, type PromotionResult } from './apply';

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

function envFile(configPath: string, env: EnvironmentName): string {
  return path.posix.join(configPath, 'environments', `${env}.json`);
}

/** Resolves the git path of `configDir` (relative to the repository root, forward slashes). */
async function configPathInRepo(git: Git, repoDir: string, configDir: string): Promise<string> {
  const top = (await git.run(['rev-parse', '--show-toplevel'])).trim();
  const rel = path.relative(fs.realpathSync(top), fs.realpathSync.native(path.resolve(repoDir))).split(path.sep).join('/');
  return path.posix.normalize(path.posix.join(rel || '.', configDir.split(path.sep).join('/')));
}

/** Fetches the base branch and resolves its commit (the promotion's parent). */
async function fetchBase(git: Git, remote: string, base: string): Promise<string> {
  await git.run(['fetch', '--quiet', '--no-write-fetch-head', remote, `+refs/heads/${base}:refs/remotes/${remote}/${base}`]);
  return (await git.run(['rev-parse', '--verify', `refs/remotes/${remote}/${base}^{commit}`])).trim();
}

/** The base commit's pipeline.json and environment files, parsed: the project, its gates, what each environment pins, the target's text. */
async function readBase(git: Git, commit: string, configPath: string, target: EnvironmentName): Promise<Pick<PromotionInput, 'project' | 'gates' | 'pinned' | 'targetText'>> {
  const show = async (file: string) => {
    const text = await git.tryRun(['show', `${commit}:${file}`]);
    if (text === null) throw new ConfigError([{ file, keyPath: '(root)', message: `not found on the base branch (commit ${commit.slice(0, 12)})` }]);
    return text;
  };
  const pipelineFile = path.posix.join(configPath, 'pipeline.json');
  const pipeline = parseAt(pipelineSchema, await show(pipelineFile), pipelineFile);
  const pinned = {} as Record<EnvironmentName, string | null>;
  let targetText = '';
  for (const name of ENVIRONMENTS) {
    const file = envFile(configPath, name);
    const text = await show(file);
    pinned[name] = parseAt(environmentSchema, text, file).model_version;
    if (name === target) targetText = text;
  }
  return { project: pipeline.project, gates: pipeline.promotion_gates, pinned, targetText };
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

/** Everything planPromotion decides from: the base branch's config, the registry record, and (for a rollback) the target's history. */
async function readPromotionInput(options: PromoteOptions, git: Git, baseCommit: string, configPath: string): Promise<PromotionInput> {
  const baseConfig = await readBase(git, baseCommit, configPath, options.target);
  const model = await loadModelVersion(options.registry, baseConfig.project, options.version);
  await verifyPromotedVersion(options.registry, options.registry.project ?? baseConfig.project, model.version);
  const file = envFile(configPath, options.target);
  const rollback = options.rollback === true;
  return {
    ...baseConfig,
    version: options.version,
    target: options.target,
    model,
    file,
    baseRef: `${options.remote ?? 'origin'}/${options.base ?? 'main'}`,
    imageTag: options.imageTag,
    force: options.force,
    reason: options.reason,
    rollback,
    pinnedBefore: rollback && model.project === baseConfig.project ? await wasPinnedBefore(git, baseCommit, file, model.version) : undefined,
  };
}

/**
 * Checks the gates, then (unless dryRun) commits the pinned version on
 * `promote/<env>/<version>`, pushes it and opens the pull request.
 * Throws PromotionRefusedError when a gate fails without --force.
 */
export async function promote(options: PromoteOptions): Promise<PromotionResult> {
  requireForceReason(options.force, options.reason);
  const repoDir = path.resolve(options.repoDir ?? process.cwd());
  const remote = options.remote ?? 'origin';
  const base = options.base ?? 'main';
  const git = new Git(repoDir);
  const configPath = await configPathInRepo(git, repoDir, options.configDir ?? 'config');
  const baseCommit = await fetchBase(git, remote, base);
  const plan = planPromotion(await readPromotionInput(options, git, baseCommit, configPath));
  if (options.dryRun) {
    const result = planResult(plan, true);
    result.notes.push(`dry run: would commit on ${plan.branch} from ${remote}/${base} (${baseCommit.slice(0, 12)}) and open a pull request`);
    return result;
  }
  return applyPromotion(plan, { git, remote, base, baseCommit, repo: options.repo, env: options.env ?? process.env });
}
