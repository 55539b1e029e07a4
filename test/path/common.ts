/**
 * What the three path tests share: a project config made for the walk (the sample API as the configured source,
 * with a token), the three bundles built as their images hold them (that project's config inside), the GitOps
 * promotion in a real git repository, and the prediction check against the model loaded locally.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as path from 'node:path';
import { loadProjectConfig } from '../../config/load';
import type { EnvironmentName, ProjectConfig } from '../../config/schema';
import { ENV } from '../../runtime/contract/env';
import type { ObjectStore } from '../../runtime/storage/object-store';
import { loadPredictor } from '../../runtime/serving/load';
import { buildIsolatedBundle } from '../containers/bundle-helpers';
import { runCli } from '../helpers/cli';
import { freePort } from '../helpers/moto';
import { copyConfig, editJson, makeTempDir } from '../helpers/tmp';
import type { Container } from './container';

/** The variable parser.json's auth names: the stacks fill it from their secret store. */
export const TOKEN_ENV = 'CHURN_API_TOKEN';
export const API_TOKEN = 'token-stored-by-the-operator';
export const ENV_NAME: EnvironmentName = 'dev';

/**
 * The repository config with what a real project sets before its first deploy: the source API (here the
 * built-in sample API on loopback, requiring a bearer token), a pinned image tag, and few epochs so the
 * walk stays quick.
 */
export function pathConfig(sourceUrl: string, imageTag = 'ci-0001'): string {
  const dir = copyConfig();
  editJson(path.join(dir, 'parser.json'), (doc) => {
    doc.ingestion = { ...doc.ingestion, auth: { token_env: TOKEN_ENV } };
  });
  editJson(path.join(dir, 'pipeline.json'), (doc) => {
    doc.training_params.epochs = 3;
  });
  for (const env of ['dev', 'qa', 'staging', 'prod']) {
    editJson(path.join(dir, 'environments', `${env}.json`), (doc) => {
      doc.model_version = null;
      doc.ingestion_source = sourceUrl;
      for (const cloud of ['aws', 'gcp', 'azure']) if (doc[cloud]) doc[cloud].image_tag = imageTag;
    });
  }
  return dir;
}

export interface Bundles {
  ingestion: string;
  /** The wasm (CPU) training bundle standing in for training-gpu: no GPU here. */
  training: string;
  serving: string;
}

/** The three bundles, each with `configDir` copied in as its config/ (what the image's MLSTACK_CONFIG_DIR points at). */
export async function buildBundles(configDir: string): Promise<Bundles> {
  const built = await Promise.all((['ingestion', 'training', 'serving'] as const).map((name) => buildIsolatedBundle(name)));
  for (const { dir } of built) {
    fs.rmSync(path.join(dir, 'config'), { recursive: true, force: true });
    fs.cpSync(configDir, path.join(dir, 'config'), { recursive: true });
  }
  return { ingestion: built[0].dir, training: built[1].dir, serving: built[2].dir };
}

/** What every image's Dockerfile sets (ENV MLSTACK_CONFIG_DIR=/app/config), with /app being the bundle folder. */
export function imageEnv(bundleDir: string): Record<string, string> {
  return { [ENV.configDir]: path.join(bundleDir, 'config') };
}

const GIT_IDENTITY = { GIT_AUTHOR_NAME: 'Path Test', GIT_AUTHOR_EMAIL: 'path@example.com', GIT_COMMITTER_NAME: 'Path Test', GIT_COMMITTER_EMAIL: 'path@example.com' };

function git(dir: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd: dir, env: { ...process.env, ...GIT_IDENTITY }, encoding: 'utf8' });
}

/** A real repository holding the project config, with a bare "origin", where `mlstack promote` opens its branch. */
export function projectRepository(configDir: string): { work: string; configDir: string } {
  const root = makeTempDir('mlstack-path-repo-');
  const remote = path.join(root, 'origin.git');
  const work = path.join(root, 'work');
  fs.mkdirSync(work);
  git(root, 'init', '--quiet', '--bare', '--initial-branch=main', remote);
  git(work, 'init', '--quiet', '--initial-branch=main');
  fs.cpSync(configDir, path.join(work, 'config'), { recursive: true });
  git(work, 'add', 'config');
  git(work, 'commit', '--quiet', '-m', 'project config');
  git(work, 'remote', 'add', 'origin', remote);
  git(work, 'push', '--quiet', 'origin', 'main');
  return { work, configDir: path.join(work, 'config') };
}

/**
 * `mlstack promote --model <version> --to <env>` against the bucket's registry, then the merge a reviewer makes:
 * the promotion branch lands on main and the checkout's config is what the next synth reads.
 */
export async function promoteAndMerge(repo: { work: string; configDir: string }, version: string, registryUri: string): Promise<ProjectConfig> {
  const run = await runCli(['promote', '--model', version, '--to', ENV_NAME, '--registry-uri', registryUri, '--repo-dir', repo.work]);
  if (run.code !== 0) throw new Error(`mlstack promote exited ${run.code}:\n${run.stdout}\n${run.stderr}`);
  const branch = `promote/${ENV_NAME}/${version}`;
  git(repo.work, 'fetch', '--quiet', 'origin', branch);
  git(repo.work, 'merge', '--quiet', '--ff-only', 'FETCH_HEAD');
  return loadProjectConfig(repo.configDir);
}

/** Polls a URL until it answers 200 (the platform's readiness probe), failing with the container's output. */
export async function waitUntilReady(url: string, container: Container, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (container.child.exitCode !== null) throw new Error(`serving exited ${container.child.exitCode} before it was ready:\n${container.output()}`);
    const status = await new Promise<number>((resolve) => {
      http.get(url, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', () => resolve(0));
    });
    if (status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms:\n${container.output()}`);
}

export async function postJson(url: string, body: unknown): Promise<{ status: number; json: any }> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, json: await response.json() };
}

/** Feature rows for a prediction: the first processed rows, numbers as numbers, as a client would send them. */
export function featureRows(config: ProjectConfig, csv: string, count = 5): Record<string, string | number>[] {
  const [header, ...lines] = csv.trim().split('\n');
  const names = header.split(',');
  return lines.slice(0, count).map((line) => {
    const values = line.split(',');
    return Object.fromEntries(
      config.pipeline.features.map((f) => {
        const value = values[names.indexOf(f)];
        return [f, /^-?\d+(\.\d+)?$/.test(value) ? Number(value) : value];
      }),
    );
  });
}

/** The server's answer without what only labels it (model_version), to compare with predictor.predict. */
export function servedPredictions(body: { predictions: Record<string, unknown>[] }): unknown[] {
  return body.predictions.map(({ model_version: _version, ...prediction }) => prediction);
}

/** The predictions the registered version gives when loaded here, straight from the store. */
export async function localPredictions(store: ObjectStore, version: string, project: string, rows: Record<string, string | number>[]): Promise<unknown> {
  const predictor = await loadPredictor(version, { store, project });
  return predictor.predict(rows);
}

export { freePort };
