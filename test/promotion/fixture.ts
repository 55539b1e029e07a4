import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { copyConfig, makeTempDir } from '../helpers/tmp';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { ModelRegistry } from '../../runtime/registry/index';
import { writeTinyPackage } from '../helpers/tiny-package';
import type { RegistryLocation } from '../../runtime/promotion/model-source';

const GIT_IDENTITY = {
  GIT_AUTHOR_NAME: 'Promo Test',
  GIT_AUTHOR_EMAIL: 'promo@example.com',
  GIT_COMMITTER_NAME: 'Promo Test',
  GIT_COMMITTER_EMAIL: 'promo@example.com',
};

export function git(dir: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd: dir, env: { ...process.env, ...GIT_IDENTITY }, encoding: 'utf8' });
}

/** A real repository with a copy of config/, cloned from a real bare remote in a temp folder. */
export interface GitFixture {
  root: string;
  /** The working clone promotions run in. */
  work: string;
  /** The bare repository that plays "origin". */
  remote: string;
  registry: RegistryLocation;
  /** Commits an edit of config/environments/<env>.json (one or several) on main and pushes it (a merged promotion). */
  pinOnMain(envs: string | string[], version: string | null): void;
  remoteBranches(): string[];
  showOnRemote(ref: string, file: string): string;
  /** Back to the initial commit on main (local and remote), with no other branches: a fresh fixture, faster. */
  reset(): void;
}

export function createGitFixture(): GitFixture {
  const root = makeTempDir('mlstack-promote-');
  const remote = path.join(root, 'origin.git');
  const work = path.join(root, 'work');
  fs.mkdirSync(work);
  git(root, 'init', '--quiet', '--bare', '--initial-branch=main', remote);
  git(work, 'init', '--quiet', '--initial-branch=main');
  for (const [key, value] of Object.entries({ 'user.name': 'Promo Test', 'user.email': 'promo@example.com' })) {
    git(work, 'config', key, value);
  }
  copyConfig(path.join(work, 'config'));
  // Start from "nothing pinned anywhere", whatever the repository's config pins today.
  for (const env of ['dev', 'qa', 'staging', 'prod']) {
    const file = path.join(work, 'config', 'environments', `${env}.json`);
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace(/"model_version": (null|"[^"]*")/, '"model_version": null'));
  }
  git(work, 'add', 'config');
  git(work, 'commit', '--quiet', '-m', 'initial config');
  git(work, 'remote', 'add', 'origin', remote);
  git(work, 'push', '--quiet', 'origin', 'main');
  const initial = git(work, 'rev-parse', 'HEAD').trim();

  const workdir = path.join(root, 'workdir');
  const fixture: GitFixture = {
    root,
    work,
    remote,
    registry: { store: new LocalObjectStore(workdir), prefix: 'registry/' },
    pinOnMain(envs, version) {
      for (const env of [envs].flat()) {
        const file = path.join(work, 'config', 'environments', `${env}.json`);
        const text = fs.readFileSync(file, 'utf8').replace(/"model_version": (null|"[^"]*")/, `"model_version": ${JSON.stringify(version)}`);
        fs.writeFileSync(file, text);
      }
      git(work, 'commit', '--quiet', '-am', `pin ${version} in ${[envs].flat().join(', ')}`);
      git(work, 'push', '--quiet', 'origin', 'main');
    },
    remoteBranches() {
      return git(remote, 'for-each-ref', '--format=%(refname:short)', 'refs/heads').split('\n').filter(Boolean).sort();
    },
    showOnRemote(ref, file) {
      return git(remote, 'show', `${ref}:${file}`);
    },
    reset() {
      // Only this fixture's own temp repositories are reset.
      git(work, 'reset', '--quiet', '--hard', initial);
      git(work, 'push', '--quiet', '--force', 'origin', 'main');
      for (const [dir, prefix] of [[work, 'refs/heads/'], [remote, 'refs/heads/']] as const) {
        for (const ref of git(dir, 'for-each-ref', '--format=%(refname)', prefix).split('\n').filter(Boolean)) {
          if (ref !== 'refs/heads/main') git(dir, 'update-ref', '-d', ref);
        }
      }
    },
  };
  return fixture;
}

export interface VersionRecordInput {
  /** The version the registry is expected to allocate (v1, v2, ... in registration order). */
  version: string;
  metrics: Record<string, number>;
  project?: string;
}

/** Registers a version through the real ModelRegistry (the layout promotion reads), over a small valid package (promotion verifies it). */
export async function registerVersion(registry: RegistryLocation, input: VersionRecordInput): Promise<void> {
  const project = input.project ?? 'mlstack';
  await writeTinyPackage(registry.store, `models/${input.version}/`, { project, runId: `run-${input.version}` });
  const record = await new ModelRegistry(registry.store, registry.prefix).register({
    project,
    packagePrefix: `models/${input.version}/`,
    metrics: input.metrics,
    lineage: {
      data_hash: `sha256:data-${input.version}`,
      config_hash: `sha256:config-${input.version}`,
      code_version: 'abc1234',
      run_id: `run-${input.version}`,
      parent_run: null,
      data_uri: 'file:///data/processed/run-1/',
    },
  });
  if (record.version !== input.version) throw new Error(`registry allocated ${record.version}, the test expected ${input.version}`);
}

export interface RecordedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: any;
}

/**
 * A loopback stand-in for the GitHub REST API (which cannot run here): it
 * records every request and answers the two calls promotion makes.
 */
export async function startFakeGitHub(options: { failPulls?: number } = {}): Promise<{
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}> {
  const requests: RecordedRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const body = text ? JSON.parse(text) : null;
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      res.setHeader('content-type', 'application/json');
      const pulls = /^\/repos\/([^/]+)\/([^/]+)\/pulls$/.exec(req.url ?? '');
      if (req.method === 'POST' && pulls) {
        if (options.failPulls) {
          res.statusCode = options.failPulls;
          res.end(JSON.stringify({ message: 'Validation Failed' }));
          return;
        }
        res.statusCode = 201;
        res.end(JSON.stringify({ number: 42, html_url: `https://github.example/${pulls[1]}/${pulls[2]}/pull/42` }));
        return;
      }
      if (req.method === 'POST' && /\/issues\/42\/labels$/.test(req.url ?? '')) {
        res.statusCode = 200;
        res.end(JSON.stringify(body.labels.map((name: string) => ({ name }))));
        return;
      }
      res.statusCode = 404;
      res.end(JSON.stringify({ message: 'Not Found' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
