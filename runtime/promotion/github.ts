import { Octokit } from '@octokit/rest';
import { CloudCallError, UsageError } from '../common/errors';

export interface RepoSlug {
  owner: string;
  repo: string;
}

/**
 * owner/repo from a GitHub remote URL: https://host/owner/repo(.git),
 * git@host:owner/repo(.git) or ssh://git@host/owner/repo(.git); null otherwise (e.g. a local path).
 */
export function parseRepoSlug(remoteUrl: string): RepoSlug | null {
  const match =
    /^(?:https?:\/\/(?:[^@/]+@)?[^/]+|ssh:\/\/(?:[^@/]+@)?[^/]+|[^@/\s]+@[^:/\s]+:)\/?([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+?)(?:\.git)?\/?$/.exec(
      remoteUrl.trim(),
    );
  return match ? { owner: match[1], repo: match[2] } : null;
}

/** Parses `--repo owner/name`. */
export function parseRepoOption(value: string): RepoSlug {
  const match = /^([A-Za-z0-9_.-]+)\/([A-Za-z0-9_.-]+)$/.exec(value);
  if (!match) throw new UsageError(`--repo "${value}" is not owner/name (for example acme/mlstack)`);
  return { owner: match[1], repo: match[2] };
}

/** The web page where a user opens the pull request by hand. */
export function compareUrl(slug: RepoSlug, base: string, head: string, serverUrl = 'https://github.com'): string {
  return `${serverUrl.replace(/\/+$/, '')}/${slug.owner}/${slug.repo}/compare/${encodeURIComponent(base)}...${head
    .split('/')
    .map(encodeURIComponent)
    .join('/')}?expand=1`;
}

export interface PullRequestInput {
  slug: RepoSlug;
  token: string;
  /** GITHUB_API_URL (GitHub Enterprise, or a loopback server in tests). */
  apiUrl?: string;
  base: string;
  head: string;
  title: string;
  body: string;
  labels?: string[];
}

export interface OpenedPullRequest {
  number: number;
  url: string;
  /** Set when the pull request opened but labelling it failed (not fatal). */
  labelWarning?: string;
}

/** Opens the pull request through the GitHub REST API (POST /repos/{owner}/{repo}/pulls), then labels it. */
export async function openPullRequest(input: PullRequestInput): Promise<OpenedPullRequest> {
  const octokit = new Octokit({
    auth: input.token,
    baseUrl: input.apiUrl ?? 'https://api.github.com',
    userAgent: 'mlstack-promote',
    request: { retries: 0 },
  });
  let response;
  try {
    response = await octokit.pulls.create({
      owner: input.slug.owner,
      repo: input.slug.repo,
      base: input.base,
      head: input.head,
      title: input.title,
      body: input.body,
      maintainer_can_modify: true,
    });
  } catch (err) {
    const status = (err as { status?: number }).status;
    throw new CloudCallError(
      `GitHub refused to open the pull request ${input.head} -> ${input.base} in ${input.slug.owner}/${input.slug.repo}` +
        `${status ? ` (HTTP ${status})` : ''}: ${(err as Error).message}. The branch is pushed: open the pull request by hand, ` +
        'or check that GITHUB_TOKEN may create pull requests (contents: write, pull-requests: write)',
    );
  }
  const opened: OpenedPullRequest = { number: response.data.number, url: response.data.html_url };
  if (input.labels?.length) {
    try {
      await octokit.issues.addLabels({
        owner: input.slug.owner,
        repo: input.slug.repo,
        issue_number: opened.number,
        labels: input.labels,
      });
    } catch (err) {
      opened.labelWarning = `could not label pull request #${opened.number}: ${(err as Error).message}`;
    }
  }
  return opened;
}
