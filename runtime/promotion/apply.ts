/**
 * The I/O half of a promotion: a planned change becomes a commit on `promote/<env>/<version>` built
 * with git plumbing on top of the base commit (the user's checkout is never touched), a pushed
 * branch, and a pull request when a GitHub token and repository are known.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { GateFailure, MetricGateResult } from './gates';
import type { Git } from './git';
import { compareUrl, openPullRequest, parseRepoOption, parseRepoSlug, type OpenedPullRequest, type RepoSlug } from './github';
import type { ModelVersionRecord } from './model-source';
import { PromotionRefusedError, type PromotionPlan } from './plan';

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

/** Where the plan is applied: the repository, its remote and base branch, and GitHub's settings. */
export interface PromotionIo {
  git: Git;
  remote: string;
  base: string;
  /** The base branch's commit the plan was made from (the new commit's parent). */
  baseCommit: string;
  /** owner/name on GitHub; parsed from the remote URL when omitted. */
  repo?: string;
  /** GITHUB_TOKEN, GITHUB_API_URL, GITHUB_SERVER_URL are read from here. */
  env: NodeJS.ProcessEnv;
}

/** The result a plan gives before anything is written (what --dry-run prints). */
export function planResult(plan: PromotionPlan, dryRun: boolean): PromotionResult {
  const { branch, file, diff, message, model, previousVersion, metricGates, overridden } = plan;
  return { branch, file, diff, message, dryRun, model, previousVersion, metricGates, overridden, notes: [] };
}

/** Commits the plan on its branch, pushes it and opens the pull request (or says where to open it). */
export async function applyPromotion(plan: PromotionPlan, io: PromotionIo): Promise<PromotionResult> {
  const { git, remote } = io;
  const result = planResult(plan, false);
  await refuseExistingBranch(git, remote, plan);
  result.commit = await commitFile(git, io.baseCommit, plan.file, plan.newText, plan.message);
  await git.run(['update-ref', `refs/heads/${plan.branch}`, result.commit, '']);
  await git.run(['push', '--quiet', remote, `refs/heads/${plan.branch}:refs/heads/${plan.branch}`]);
  result.notes.push(`pushed ${plan.branch} to ${remote} (commit ${result.commit.slice(0, 12)})`);
  await offerPullRequest(plan, io, result);
  return result;
}

async function refuseExistingBranch(git: Git, remote: string, plan: PromotionPlan): Promise<void> {
  const { branch, model, target } = plan;
  if ((await git.tryRun(['rev-parse', '--verify', '--quiet', `refs/heads/${branch}`])) !== null) {
    throw new PromotionRefusedError(`branch ${branch} already exists locally: a promotion of ${model.version} to ${target} was started; delete it (git branch -D ${branch}) to start again`);
  }
  if ((await git.run(['ls-remote', '--heads', remote, `refs/heads/${branch}`])).trim() !== '') {
    throw new PromotionRefusedError(`branch ${branch} already exists on ${remote}: a pull request for this promotion is probably open; merge or close it first`);
  }
}

/** Opens the pull request with a token, else records where to open it by hand. */
async function offerPullRequest(plan: PromotionPlan, io: PromotionIo, result: PromotionResult): Promise<void> {
  const { branch, message, target } = plan;
  const slug = await resolveSlug(io.git, io.remote, io.repo);
  const token = io.env.GITHUB_TOKEN;
  if (token && slug) {
    result.pullRequest = await openPullRequest({
      slug,
      token,
      apiUrl: io.env.GITHUB_API_URL,
      base: io.base,
      head: branch,
      title: message.split('\n')[0],
      body: plan.pullRequestBody,
      labels: ['promotion', `env:${target}`],
    });
    result.notes.push(`opened pull request #${result.pullRequest.number}: ${result.pullRequest.url}`);
    if (result.pullRequest.labelWarning) result.notes.push(result.pullRequest.labelWarning);
  } else if (slug) {
    result.compareUrl = compareUrl(slug, io.base, branch, io.env.GITHUB_SERVER_URL);
    result.notes.push(`GITHUB_TOKEN is not set: open the pull request at ${result.compareUrl}`);
  } else {
    result.notes.push(
      `${token ? 'GITHUB_TOKEN is set but ' : ''}the remote "${io.remote}" is not a GitHub URL and no --repo owner/name was given: ` +
        `open a pull request from ${branch} into ${io.base} by hand`,
    );
  }
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
