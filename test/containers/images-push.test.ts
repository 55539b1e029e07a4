import * as fs from 'node:fs';
import * as path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { loadProjectConfig } from '../../config/load';
import type { EnvironmentConfig } from '../../config/schema';
import { buildMlApp } from '../../infra/aws/build-app';
import { existingImages, formatCommand, planExistingImageChecks, planImagePush, runCommands } from '../../runtime/cli/commands/images';
import { main } from '../../runtime/cli/main';
import { ecrImageUri } from '../../runtime/contract/aws-names';
import { environmentImageRef, imageRegistryHost } from '../../runtime/contract/image-registries';
import { buildCdktfApp } from '../../infra/cdktf/app';
import { copyConfig, editJson, makeTempDir } from '../helpers/tmp';
import { resolveCfn } from '../infra/aws/helpers';

const repoRoot = path.resolve(__dirname, '..', '..');
const config = loadProjectConfig(path.join(repoRoot, 'config'));
const ACCOUNT = '123456789012';

/** An environment of the repository's config with its aws section edited. */
function withAws(env: EnvironmentConfig, aws: Partial<NonNullable<EnvironmentConfig['aws']>>): EnvironmentConfig {
  return { ...env, aws: { ...env.aws!, ...aws } };
}

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

  test('aws: ECR login through sh -c (the password on a pipe), then build, tag and push to <account>.dkr.ecr.<region>.amazonaws.com/<project>-<env>/<image>:<tag>', () => {
    const env = withAws(config.environments.staging, { image_tag: 'git-0a1b2c3' });
    const region = env.aws!.region;
    const host = `${ACCOUNT}.dkr.ecr.${region}.amazonaws.com`;
    const project = config.pipeline.project;
    const commands = planImagePush({ cloud: 'aws', pipeline: config.pipeline, env, account: ACCOUNT }).map(formatCommand);
    expect(commands).toEqual([
      `sh -c 'aws ecr get-login-password --region ${region} | docker login --username AWS --password-stdin ${host}'`,
      ...['ingestion', 'training-gpu', 'serving'].flatMap((image) => [
        `docker build --platform linux/amd64 --file containers/${image}/Dockerfile --tag ${project}/${image}:git-0a1b2c3 .`,
        `docker tag ${project}/${image}:git-0a1b2c3 ${host}/${project}-staging/${image}:git-0a1b2c3`,
        `docker push ${host}/${project}-staging/${image}:git-0a1b2c3`,
      ]),
    ]);
    expect(commands[3]).toBe(`docker push ${ecrImageUri(config.pipeline, 'staging', 'ingestion', { account: ACCOUNT, region, tag: 'git-0a1b2c3' })}`);
    // aws.account in the environment file serves when --account is absent; --tag and --image narrow the push.
    const fromConfig = planImagePush({ cloud: 'aws', pipeline: config.pipeline, env: withAws(env, { account: '210987654321' }), tag: 'rc1', images: ['serving'] });
    expect(fromConfig.map((c) => c.at(-1))).toEqual([
      expect.stringMatching(/--password-stdin 210987654321\.dkr\.ecr\./),
      '.',
      `210987654321.dkr.ecr.${region}.amazonaws.com/${project}-staging/serving:rc1`,
      `210987654321.dkr.ecr.${region}.amazonaws.com/${project}-staging/serving:rc1`,
    ]);
  });

  test('aws refuses an unpinned tag (cdk deploy builds those images as assets) and asks for an account', () => {
    const dev = config.environments.dev;
    expect(dev.aws!.image_tag).toBe('latest');
    expect(() => planImagePush({ cloud: 'aws', pipeline: config.pipeline, env: dev, account: ACCOUNT })).toThrow(
      /--cloud aws with image tag "latest": in that mode `npx cdk deploy MlStack-dev` builds the images from containers\/ as CDK assets[\s\S]*pin aws\.image_tag in environments\/dev\.json/,
    );
    expect(() => planImagePush({ cloud: 'aws', pipeline: config.pipeline, env: withAws(dev, { image_tag: 'v1' }), tag: 'latest', account: ACCOUNT })).toThrow(/image tag "latest"/);
    const pinned = withAws(dev, { image_tag: 'v1' });
    expect(pinned.aws!.account).toBeUndefined();
    expect(() => planImagePush({ cloud: 'aws', pipeline: config.pipeline, env: pinned })).toThrow(
      '--cloud aws needs the AWS account of the ECR registry: pass --account <12-digit id> or set aws.account in environments/dev.json',
    );
    expect(() => planImagePush({ cloud: 'aws', pipeline: config.pipeline, env: pinned, account: '1234' })).toThrow('--account "1234": expected a 12-digit AWS account id');
    expect(() => planImagePush({ cloud: 'gcp', pipeline: config.pipeline, env: pinned, account: ACCOUNT })).toThrow('--account applies to --cloud aws only');
    expect(() => planExistingImageChecks({ cloud: 'azure', pipeline: config.pipeline, env: pinned })).toThrow('--skip-existing applies to --cloud aws only');
  });

  test('aws: the references pushed are exactly the images the synthesized MlStack runs for a pinned tag', () => {
    const configDir = copyConfig();
    editJson(path.join(configDir, 'environments', 'qa.json'), (doc) => {
      doc.aws.image_tag = 'ci-7f3e2d1';
      doc.model_version = 'v3';
      delete doc.aws.account;
    });
    const { stacks, registryStacks } = buildMlApp({ configDir, environments: ['qa'], nag: false, buildContext: repoRoot });
    const t = Template.fromStack(stacks.qa!);
    // The stack names no account: CloudFormation fills in the one it deploys to.
    const deployed = (value: unknown) => resolveCfn(value, { 'AWS::AccountId': ACCOUNT });
    const [, trainingMachine] = Object.entries(t.findResources('AWS::StepFunctions::StateMachine')).find(([id]) => id.startsWith('Training'))!;
    const used = new Set<string>([
      deployed(trainingMachine.Properties.DefinitionString).match(/"TrainingImage":"([^"]+)"/)[1],
      ...Object.values(t.findResources('AWS::ECS::TaskDefinition')).map((d) => deployed(d.Properties.ContainerDefinitions[0].Image)),
      ...Object.values(t.findResources('AWS::SageMaker::Model')).map((m) => deployed(m.Properties.PrimaryContainer.Image)),
    ]);
    const qa = loadProjectConfig(configDir).environments.qa;
    const pushes = planImagePush({ cloud: 'aws', pipeline: config.pipeline, env: qa, account: ACCOUNT })
      .filter((c) => c[1] === 'push')
      .map((c) => c[2]);
    expect(pushes).toHaveLength(3);
    expect(new Set(pushes)).toEqual(used);
    // ... into repositories the registry stack declares.
    const declared = Object.values(Template.fromStack(registryStacks.qa!).findResources('AWS::ECR::Repository')).map((r) => r.Properties.RepositoryName);
    expect(pushes.map((ref) => /^[^/]+\/(.+):[^:]+$/.exec(ref)![1]).sort()).toEqual([...declared].sort());
    fs.rmSync(configDir, { recursive: true, force: true });
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

  test('--dry-run for aws prints the ECR plan; --skip-existing adds its checks as comments', async () => {
    const args = ['node', 'mlstack', 'images', 'push', '--cloud', 'aws', '--env', 'prod', '--tag', 'v9', '--account', ACCOUNT, '--dry-run', '--repo-dir', repoRoot];
    expect(await main(args)).toBe(0);
    const expected = planImagePush({ cloud: 'aws', pipeline: config.pipeline, env: config.environments.prod, tag: 'v9', account: ACCOUNT }).map(formatCommand);
    expect(out.join('')).toBe(expected.join('\n') + '\n');
    out.length = 0;
    expect(await main([...args, '--skip-existing', '--image', 'serving'])).toBe(0);
    expect(out.join('').split('\n')[0]).toBe(
      `# --skip-existing: serving is left out when this succeeds: aws ecr describe-images --region ${config.environments.prod.aws!.region} ` +
        `--registry-id ${ACCOUNT} --repository-name ${config.pipeline.project}-prod/serving --image-ids imageTag=v9`,
    );
  });

  test('bad cloud, environment and image names, an unpinned aws tag and no account exit 2 with what to do', async () => {
    expect(await main(['node', 'mlstack', 'images', 'push', '--cloud', 'ibm', '--env', 'dev', '--repo-dir', repoRoot])).toBe(2);
    expect(err.join('')).toContain('--cloud "ibm": expected aws, gcp or azure');
    expect(await main(['node', 'mlstack', 'images', 'push', '--cloud', 'aws', '--env', 'dev', '--account', ACCOUNT, '--repo-dir', repoRoot])).toBe(2);
    expect(err.join('')).toContain('builds the images from containers/ as CDK assets');
    expect(await main(['node', 'mlstack', 'images', 'push', '--cloud', 'aws', '--env', 'dev', '--tag', 'v1', '--repo-dir', repoRoot])).toBe(2);
    expect(err.join('')).toContain('pass --account <12-digit id> or set aws.account in environments/dev.json');
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

  describe('aws, run through shims', () => {
    // No Docker engine or AWS CLI runs here: shims on PATH record their arguments. The aws shim answers
    // describe-images with success when the arguments contain SHIM_PRESENT, else with SHIM_ERROR (exit 254).
    let bin: string;
    let log: string;
    let repoDir: string;
    const saved = { ...process.env };
    beforeEach(() => {
      bin = makeTempDir('mlstack-shims-');
      log = path.join(bin, 'calls.log');
      fs.writeFileSync(
        path.join(bin, 'aws'),
        `#!/bin/sh\necho "aws $*" >> "${log}"\ncase "$*" in\n  *get-login-password*) echo secret-token; exit 0;;\n` +
          `  *describe-images*) case "$*" in *"$SHIM_PRESENT"*) exit 0;; esac; echo "$SHIM_ERROR" >&2; exit 254;;\nesac\n`,
        { mode: 0o755 },
      );
      // `docker login` records what arrived on its stdin: the password must come through the pipe.
      fs.writeFileSync(
        path.join(bin, 'docker'),
        `#!/bin/sh\ncase "$1" in login) echo "docker $* <$(cat)>" >> "${log}";; *) echo "docker $*" >> "${log}";; esac\n`,
        { mode: 0o755 },
      );
      process.env.PATH = `${bin}:${saved.PATH}`;
      process.env.SHIM_ERROR = 'An error occurred (ImageNotFoundException) when calling the DescribeImages operation: not found';
      process.env.SHIM_PRESENT = 'no-such-repository ';
      repoDir = path.dirname(copyConfig(path.join(makeTempDir('mlstack-images-'), 'config')));
    });
    afterEach(() => {
      process.env = { ...saved };
    });
    const push = (...extra: string[]) =>
      main(['node', 'mlstack', 'images', 'push', '--cloud', 'aws', '--env', 'qa', '--tag', 't1', '--account', ACCOUNT, '--repo-dir', repoDir, ...extra]);
    const calls = () => fs.readFileSync(log, 'utf8').trim().split('\n');
    const region = () => config.environments.qa.aws!.region;
    const remote = (image: string) => `${ACCOUNT}.dkr.ecr.${region()}.amazonaws.com/${config.pipeline.project}-qa/${image}:t1`;

    test('logs in with the password on a pipe, then builds, tags and pushes', async () => {
      expect(await push('--image', 'serving')).toBe(0);
      expect(calls()).toEqual([
        `aws ecr get-login-password --region ${region()}`,
        `docker login --username AWS --password-stdin ${ACCOUNT}.dkr.ecr.${region()}.amazonaws.com <secret-token>`,
        `docker build --platform linux/amd64 --file containers/serving/Dockerfile --tag ${config.pipeline.project}/serving:t1 .`,
        `docker tag ${config.pipeline.project}/serving:t1 ${remote('serving')}`,
        `docker push ${remote('serving')}`,
      ]);
      expect(out.join('')).toContain(`pushed ${remote('serving')}`);
    });

    test('--skip-existing pushes only the tags ECR does not have yet', async () => {
      process.env.SHIM_PRESENT = `${config.pipeline.project}-qa/serving `;
      expect(await push('--skip-existing')).toBe(0);
      const describeImages = (image: string) =>
        `aws ecr describe-images --region ${region()} --registry-id ${ACCOUNT} --repository-name ${config.pipeline.project}-qa/${image} --image-ids imageTag=t1`;
      expect(calls().slice(0, 4)).toEqual([
        describeImages('ingestion'),
        describeImages('training-gpu'),
        describeImages('serving'),
        `aws ecr get-login-password --region ${region()}`,
      ]);
      expect(calls().filter((c) => c.startsWith('docker push'))).toEqual([`docker push ${remote('ingestion')}`, `docker push ${remote('training-gpu')}`]);
      expect(out.join('')).toContain(`skipped ${remote('serving')}: already in ECR`);

      // Everything present: nothing is built, not even a login.
      fs.writeFileSync(log, '');
      process.env.SHIM_PRESENT = `${config.pipeline.project}-qa/`;
      expect(await push('--skip-existing')).toBe(0);
      expect(calls()).toHaveLength(3);
      expect(calls().every((c) => c.includes('describe-images'))).toBe(true);
    });

    test('--skip-existing: a missing repository names the registry stack; other failures are not read as "absent"', async () => {
      process.env.SHIM_ERROR = 'An error occurred (RepositoryNotFoundException) when calling the DescribeImages operation';
      expect(await push('--skip-existing')).toBe(2);
      expect(err.join('')).toContain('its ECR repository does not exist yet: deploy the registry stack first (npx cdk deploy MlStack-qa-registry)');
      process.env.SHIM_ERROR = 'Unable to locate credentials';
      const checks = planExistingImageChecks({ cloud: 'aws', pipeline: config.pipeline, env: config.environments.qa, tag: 't1', account: ACCOUNT });
      await expect(existingImages(checks, repoDir)).rejects.toThrow(/aws ecr describe-images .* failed \(exit 254\): Unable to locate credentials/);
      expect(calls().some((c) => c.startsWith('docker'))).toBe(false);
    });
  });
});
