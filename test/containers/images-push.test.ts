import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadProjectConfig } from '../../config/load';
import { formatCommand, planImagePush, runCommands } from '../../runtime/cli/commands/images';
import { main } from '../../runtime/cli/main';
import { environmentImageRef, imageRegistryHost } from '../../runtime/contract/image-registries';
import { buildCdktfApp } from '../../infra/cdktf/app';
import { copyConfig, makeTempDir } from '../helpers/tmp';

const repoRoot = path.resolve(__dirname, '..', '..');
const config = loadProjectConfig(path.join(repoRoot, 'config'));

describe('planImagePush', () => {
  test('gcp: Artifact Registry login, then build, tag and push of each image at the env image_tag', () => {
    const commands = planImagePush({ cloud: 'gcp', pipeline: config.pipeline, env: config.environments.staging }).map(formatCommand);
    const host = `${config.environments.staging.gcp!.region}-docker.pkg.dev/${config.environments.staging.gcp!.project_id}/${config.pipeline.project}-staging`;
    const tag = config.environments.staging.gcp!.image_tag;
    expect(commands[0]).toBe(`gcloud auth configure-docker ${config.environments.staging.gcp!.region}-docker.pkg.dev --quiet`);
    expect(commands.slice(1, 4)).toEqual([
      `docker build --platform linux/amd64 --file containers/ingestion/Dockerfile --tag ${config.pipeline.project}/ingestion:${tag} .`,
      `docker tag ${config.pipeline.project}/ingestion:${tag} ${host}/ingestion:${tag}`,
      `docker push ${host}/ingestion:${tag}`,
    ]);
    expect(commands.filter((c) => c.startsWith('docker push'))).toEqual(
      ['ingestion', 'training-gpu', 'serving'].map((image) => `docker push ${host}/${image}:${tag}`),
    );
    for (const image of ['ingestion', 'training-gpu', 'serving']) {
      expect(fs.existsSync(path.join(repoRoot, 'containers', image, 'Dockerfile'))).toBe(true);
    }
  });

  test('azure: ACR login by registry name; --tag and --image narrow the push', () => {
    const commands = planImagePush({
      cloud: 'azure',
      pipeline: config.pipeline,
      env: config.environments.prod,
      tag: 'git-1234',
      images: ['serving'],
    }).map(formatCommand);
    const registry = `${config.pipeline.project.replace(/-/g, '')}prodacr`;
    expect(commands).toEqual([
      `az acr login --name ${registry}`,
      `docker build --platform linux/amd64 --file containers/serving/Dockerfile --tag ${config.pipeline.project}/serving:git-1234 .`,
      `docker tag ${config.pipeline.project}/serving:git-1234 ${registry}.azurecr.io/serving:git-1234`,
      `docker push ${registry}.azurecr.io/serving:git-1234`,
    ]);
    expect(formatCommand(['echo', "it's here"])).toBe(`echo 'it'\\''s here'`);
  });

  test('the references match the images the cdktf stacks deploy', () => {
    const app = buildCdktfApp({ config, outdir: makeTempDir('mlstack-cdktf-'), environments: ['dev'], backendEnv: {} });
    const manifest = JSON.stringify(app.node.findAll().map((c) => (c as any).toTerraform?.() ?? null));
    const env = config.environments.dev;
    for (const cloud of ['gcp', 'azure'] as const) {
      // No model is pinned in the repository config, so no serving service is declared: the training image is.
      expect(manifest).toContain(environmentImageRef(cloud, config.pipeline, env, 'training-gpu'));
      expect(imageRegistryHost(cloud, config.pipeline, env)).toMatch(cloud === 'gcp' ? /-docker\.pkg\.dev\// : /\.azurecr\.io$/);
    }
  });
});

describe('mlstack images push', () => {
  let out: string[];
  let err: string[];
  beforeEach(() => {
    out = [];
    err = [];
    jest.spyOn(process.stdout, 'write').mockImplementation((c: any) => (out.push(String(c)), true));
    jest.spyOn(process.stderr, 'write').mockImplementation((c: any) => (err.push(String(c)), true));
  });
  afterEach(() => jest.restoreAllMocks());

  test('--dry-run prints exactly the planned commands', async () => {
    expect(await main(['node', 'mlstack', 'images', 'push', '--cloud', 'gcp', '--env', 'dev', '--dry-run', '--repo-dir', repoRoot])).toBe(0);
    const expected = planImagePush({ cloud: 'gcp', pipeline: config.pipeline, env: config.environments.dev }).map(formatCommand);
    expect(out.join('')).toBe(expected.join('\n') + '\n');
  });

  test('bad cloud, environment and image names exit 2 with the accepted values', async () => {
    expect(await main(['node', 'mlstack', 'images', 'push', '--cloud', 'aws', '--env', 'dev'])).toBe(2);
    expect(err.join('')).toContain('expected gcp or azure (AWS images are CDK assets');
    expect(await main(['node', 'mlstack', 'images', 'push', '--cloud', 'gcp', '--env', 'test'])).toBe(2);
    expect(err.join('')).toContain('unknown environment "test"');
    expect(await main(['node', 'mlstack', 'images', 'push', '--cloud', 'gcp', '--env', 'dev', '--image', 'gpu', '--repo-dir', repoRoot])).toBe(2);
    expect(err.join('')).toContain('--image "gpu": expected one of ingestion, training-gpu, serving');
  });

  test('runs the commands in order and stops at the first failure', async () => {
    // No Docker engine or cloud CLI runs here: shims on PATH record their arguments instead.
    const bin = makeTempDir('mlstack-shims-');
    const log = path.join(bin, 'calls.log');
    for (const tool of ['docker', 'az']) {
      fs.writeFileSync(
        path.join(bin, tool),
        `#!/bin/sh\necho "${tool} $*" >> "${log}"\ncase "$*" in *FAILME*) exit 3;; esac\n`,
        { mode: 0o755 },
      );
    }
    const savedPath = process.env.PATH;
    process.env.PATH = `${bin}:${savedPath}`;
    const configDir = copyConfig(path.join(makeTempDir('mlstack-images-'), 'config'));
    try {
      expect(
        await main(['node', 'mlstack', 'images', 'push', '--cloud', 'azure', '--env', 'qa', '--image', 'serving', '--tag', 't1', '--repo-dir', path.dirname(configDir)]),
      ).toBe(0);
      const registry = `${config.pipeline.project.replace(/-/g, '')}qaacr`;
      expect(fs.readFileSync(log, 'utf8').trim().split('\n')).toEqual([
        `az acr login --name ${registry}`,
        `docker build --platform linux/amd64 --file containers/serving/Dockerfile --tag ${config.pipeline.project}/serving:t1 .`,
        `docker tag ${config.pipeline.project}/serving:t1 ${registry}.azurecr.io/serving:t1`,
        `docker push ${registry}.azurecr.io/serving:t1`,
      ]);
      expect(out.join('')).toContain(`pushed ${registry}.azurecr.io/serving:t1`);

      fs.writeFileSync(log, '');
      await expect(runCommands([['docker', 'build', 'FAILME'], ['docker', 'push', 'never']], bin)).rejects.toThrow('docker build FAILME failed (exit 3)');
      expect(fs.readFileSync(log, 'utf8').trim()).toBe('docker build FAILME');
      await expect(runCommands([['mlstack-no-such-tool']], bin)).rejects.toThrow('mlstack-no-such-tool not found on PATH');
    } finally {
      process.env.PATH = savedPath;
    }
  });
});
