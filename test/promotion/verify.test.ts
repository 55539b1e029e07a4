/**
 * The version promoted must verify (issue 20): a registered version whose package was changed afterwards is
 * never pinned, by the API or the CLI, with or without --force; the message names the version and the file.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { main } from '../../runtime/cli/main';
import { MANIFEST_FILE, PackageInvalidError, writeManifest } from '../../runtime/model/manifest';
import { promote, type PromoteOptions } from '../../runtime/promotion/promote';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { createGitFixture, registerVersion, type GitFixture } from './fixture';

let fx: GitFixture;
const packageDir = (version: string) => path.join(fx.root, 'workdir', 'models', version);

function options(overrides: Partial<PromoteOptions>): PromoteOptions {
  return { version: 'v1', target: 'dev', registry: fx.registry, repoDir: fx.work, env: {}, dryRun: true, ...overrides };
}

beforeAll(async () => {
  fx = createGitFixture();
  for (const version of ['v1', 'v2', 'v3']) await registerVersion(fx.registry, { version, metrics: { auc: 0.81, accuracy: 0.84 } });
});

describe('promoting a version whose package changed after registration', () => {
  it('an intact version passes; a changed weights file is refused by name, even with --force', async () => {
    expect((await promote(options({}))).branch).toBe('promote/dev/v1');
    const weights = path.join(packageDir('v1'), 'model', 'weights.bin');
    const bytes = fs.readFileSync(weights);
    bytes[0] ^= 0xff;
    fs.writeFileSync(weights, bytes);
    for (const run of [options({}), options({ force: true, reason: 'incident 42' })]) {
      const err = await promote(run).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PackageInvalidError);
      expect((err as Error).message).toMatch(/^v1 cannot be promoted: model package .*models\/v1\/: model\/weights\.bin does not match manifest\.json \(expected sha256 [0-9a-f]{64}, 8 bytes; found sha256 [0-9a-f]{64}, 8 bytes\)/);
    }
    expect(fx.remoteBranches()).toEqual(['main']);
  });

  it('a manifest rewritten to match an edit is refused against the registry record', async () => {
    const metadata = path.join(packageDir('v2'), 'metadata.json');
    fs.writeFileSync(metadata, fs.readFileSync(metadata, 'utf8').replace('"threshold": 0.5', '"threshold": 0.01'));
    await writeManifest(new LocalObjectStore(packageDir('v2')), '');
    await expect(promote(options({ version: 'v2' }))).rejects.toThrow(/^v2 cannot be promoted: model package .*: manifest\.json does not match registry version v2 \(expected sha256 [0-9a-f]{64}, found [0-9a-f]{64}\)/);
  });

  it('mlstack promote --registry-uri exits 1 naming the file', async () => {
    fs.rmSync(path.join(packageDir('v3'), MANIFEST_FILE));
    const stderr: string[] = [];
    const spy = jest.spyOn(process.stderr, 'write').mockImplementation(((chunk: string) => stderr.push(String(chunk))) as never);
    let code: number;
    try {
      code = await main(['node', 'mlstack', 'promote', '--model', 'v3', '--to', 'dev', '--dry-run', '--repo-dir', fx.work, '--registry-uri', `file://${fx.root}/workdir/registry/`]);
    } finally {
      spy.mockRestore();
    }
    expect(code).toBe(1);
    expect(stderr.join('')).toMatch(/v3 cannot be promoted: model package .*models\/v3\/: manifest\.json is missing, but registry version v3 recorded one/);
  });
});
