/** Promotion's last step (the pull request) and the `mlstack promote` command, against a real bare remote. */
import { main } from '../../runtime/cli/main';
import { promote, type PromoteOptions } from '../../runtime/promotion/promote';
import { createGitFixture, registerVersion, startFakeGitHub, type GitFixture } from './fixture';

const NO_GITHUB: NodeJS.ProcessEnv = {};

let fx: GitFixture;

function options(overrides: Partial<PromoteOptions>): PromoteOptions {
  return { version: 'v1', target: 'dev', registry: fx.registry, repoDir: fx.work, env: NO_GITHUB, ...overrides };
}

beforeAll(async () => {
  fx = createGitFixture();
  await registerVersion(fx.registry, { version: 'v1', metrics: { auc: 0.81, accuracy: 0.84 } });
  await registerVersion(fx.registry, { version: 'v2', metrics: { auc: 0.83, accuracy: 0.86 } });
  await registerVersion(fx.registry, { version: 'v3', metrics: { auc: 0.61, accuracy: 0.7 } });
});

beforeEach(() => fx.reset());

describe('pull request', () => {
  // The GitHub API itself cannot run here: a loopback server records what the client sends.
  test('opens the pull request through the GitHub API when GITHUB_TOKEN is set', async () => {
    const github = await startFakeGitHub();
    try {
      const result = await promote(
        options({ repo: 'acme/mlstack', env: { GITHUB_TOKEN: 'ghs_test', GITHUB_API_URL: github.url } }),
      );
      expect(result.pullRequest).toEqual({ number: 42, url: 'https://github.example/acme/mlstack/pull/42' });
      const create = github.requests.find((r) => r.url === '/repos/acme/mlstack/pulls');
      expect(create?.method).toBe('POST');
      expect(create?.headers.authorization).toBe('token ghs_test');
      expect(create?.body).toMatchObject({ head: 'promote/dev/v1', base: 'main', title: 'Promote mlstack model v1 to dev' });
      expect(create?.body.body).toContain('data hash:    sha256:data-v1');
      expect(create?.body.body).toContain('+  "model_version": "v1",');
      const labels = github.requests.find((r) => r.url === '/repos/acme/mlstack/issues/42/labels');
      expect(labels?.body).toEqual({ labels: ['promotion', 'env:dev'] });
    } finally {
      await github.close();
    }
  });

  test('a refused API call explains that the branch is pushed', async () => {
    const github = await startFakeGitHub({ failPulls: 422 });
    try {
      await expect(
        promote(options({ repo: 'acme/mlstack', env: { GITHUB_TOKEN: 't', GITHUB_API_URL: github.url } })),
      ).rejects.toThrow(/GitHub refused to open the pull request promote\/dev\/v1 -> main in acme\/mlstack \(HTTP 422\).*The branch is pushed/);
      expect(fx.remoteBranches()).toContain('promote/dev/v1');
    } finally {
      await github.close();
    }
  });

  test('without GITHUB_TOKEN it prints the compare URL of the remote repository', async () => {
    const result = await promote(options({ repo: 'acme/mlstack' }));
    expect(result.compareUrl).toBe('https://github.com/acme/mlstack/compare/main...promote/dev/v1?expand=1');
    expect(result.notes.join('\n')).toContain('GITHUB_TOKEN is not set: open the pull request at https://github.com/acme/mlstack/compare/');
  });
});

describe('mlstack promote (CLI, in process)', () => {
  let stdout: string[];
  let stderr: string[];
  beforeEach(() => {
    stdout = [];
    stderr = [];
    jest.spyOn(process.stdout, 'write').mockImplementation((chunk: any) => (stdout.push(String(chunk)), true));
    jest.spyOn(process.stderr, 'write').mockImplementation((chunk: any) => (stderr.push(String(chunk)), true));
  });
  afterEach(() => jest.restoreAllMocks());

  const cli = (...args: string[]) =>
    main(['node', 'mlstack', 'promote', '--repo-dir', fx.work, '--registry-uri', `file://${fx.root}/workdir/registry/`, ...args]);

  test('--dry-run prints the diff and exits 0', async () => {
    expect(await cli('--model', 'v1', '--to', 'dev', '--dry-run')).toBe(0);
    expect(stdout.join('')).toContain('+  "model_version": "v1",');
    expect(stdout.join('')).toContain('dry run: would commit on promote/dev/v1');
    expect(fx.remoteBranches()).toEqual(['main']);
  });

  test('pushes the branch and prints the next step', async () => {
    expect(await cli('--model', 'v1', '--to', 'dev', '--workdir', '/nonexistent')).toBe(0);
    expect(stdout.join('')).toMatch(/branch promote\/dev\/v1, commit [0-9a-f]{40}/);
    expect(fx.remoteBranches()).toContain('promote/dev/v1');
  });

  test('a failed gate exits 2 with the reason; a bad environment name too', async () => {
    expect(await cli('--model', 'v3', '--to', 'dev')).toBe(2);
    expect(stderr.join('')).toContain('requires auc >= 0.75; the model has 0.61');
    expect(await cli('--model', 'v1', '--to', 'production')).toBe(2);
    expect(stderr.join('')).toContain('unknown environment "production"');
  });

  test('an unknown or malformed --model exits 2, as `serve --model` does, naming --model and the versions that exist', async () => {
    expect(await cli('--model', 'v9', '--to', 'dev', '--dry-run')).toBe(2);
    expect(stderr.join('')).toMatch(/--model "v9": model version "v9" is not registered for project "mlstack"; known versions: v1, v2, v3/);
    stderr.length = 0;
    expect(await cli('--model', '7', '--to', 'dev', '--dry-run')).toBe(2);
    expect(stderr.join('')).toMatch(/--model "7" is not a version \(versions look like v1, v2, \.\.\. or "latest"\):.*known versions: v1, v2, v3/);
    expect(fx.remoteBranches()).toEqual(['main']);
  });

  test('--force is reported in the output', async () => {
    expect(await cli('--model', 'v3', '--to', 'dev', '--force', '--reason', 'demo')).toBe(0);
    expect(stdout.join('')).toContain('FORCED past 1 failed gate(s)');
  });
});
