import { spawn } from 'node:child_process';
import * as path from 'node:path';
import type { Command } from 'commander';
import type { EnvironmentConfig, PipelineConfig } from '../../../config/schema';
import { ecrRepositoryName } from '../../contract/aws-names';
import type { PushCloud } from '../../contract/image-registries';
import { IMAGE_NAMES, UNPINNED_IMAGE_TAG, type ImageName } from '../../contract/images';
import { awsRegistryStackName, awsStackName } from '../../contract/stack-names';
import { MlstackError, UsageError } from '../errors';
import { DEFAULT_CONFIG_DIR } from './defaults';

// Loaded on use: config/load (and the registry names, which import it) builds zod schemas that `mlstack --help` need not pay for.
const configLoad = () => require('../../../config/load') as typeof import('../../../config/load');
const registries = () => require('../../contract/image-registries') as typeof import('../../contract/image-registries');

export interface ImagePushPlanInput {
  cloud: PushCloud;
  pipeline: PipelineConfig;
  env: EnvironmentConfig;
  /** @default the environment's <cloud>.image_tag */
  tag?: string;
  /** @default all three images */
  images?: readonly ImageName[];
  /** AWS account of the ECR registry (aws only). @default the environment's aws.account */
  account?: string;
}

const AWS_ACCOUNT = /^\d{12}$/;

/** The tag and (AWS) account a push names, with a UsageError saying what to set when one is missing or refused. */
function resolvePushTarget(input: ImagePushPlanInput): { tag: string; account?: string } {
  const tag = input.tag ?? configLoad().requireCloud(input.env, input.cloud)[input.cloud].image_tag;
  if (input.cloud !== 'aws') {
    if (input.account !== undefined) throw new UsageError(`--account applies to --cloud aws only (the ECR registry's account), not ${input.cloud}`);
    return { tag };
  }
  const file = `environments/${input.env.name}.json`;
  if (tag === UNPINNED_IMAGE_TAG) {
    throw new UsageError(
      `--cloud aws with image tag "${tag}": in that mode \`npx cdk deploy ${awsStackName(input.env.name)}\` builds the images ` +
        `from containers/ as CDK assets and nothing is pushed here. To deploy CI-built images, pin aws.image_tag in ${file} ` +
        'and push that tag (or pass --tag <tag> to push one before pinning it).',
    );
  }
  const account = input.account ?? configLoad().requireCloud(input.env, 'aws').aws.account;
  if (account === undefined) {
    throw new UsageError(`--cloud aws needs the AWS account of the ECR registry: pass --account <12-digit id> or set aws.account in ${file}`);
  }
  if (!AWS_ACCOUNT.test(account)) throw new UsageError(`--account "${account}": expected a 12-digit AWS account id`);
  return { tag, account };
}

/** The command that logs Docker in to the environment's registry. */
function loginCommand(input: ImagePushPlanInput, target: { account?: string }): string[] {
  const registry = registries().imageRegistryHost(input.cloud, input.pipeline, input.env, target);
  if (input.cloud === 'aws') {
    // The password travels through a pipe, never an argument: `sh -c` runs the documented ECR login.
    const region = configLoad().requireCloud(input.env, 'aws').aws.region;
    const getPassword = formatCommand(['aws', 'ecr', 'get-login-password', '--region', region]);
    const login = formatCommand(['docker', 'login', '--username', 'AWS', '--password-stdin', registry]);
    return ['sh', '-c', `${getPassword} | ${login}`];
  }
  if (input.cloud === 'gcp') return ['gcloud', 'auth', 'configure-docker', registry.split('/')[0], '--quiet'];
  return ['az', 'acr', 'login', '--name', registries().azureRegistryName(input.pipeline, input.env)];
}

/**
 * The commands that build, tag and push the images to one environment's registry,
 * in order: registry login, then per image `docker build` (context = repository root,
 * linux/amd64 as the clouds run it), `docker tag`, `docker push`. On AWS the registry
 * is the environment's ECR repositories (MlStack-<env>-registry), which only serve
 * a pinned image_tag: with `latest`, cdk deploy builds the images as assets instead.
 */
export function planImagePush(input: ImagePushPlanInput): string[][] {
  const target = resolvePushTarget(input);
  const commands: string[][] = [loginCommand(input, target)];
  for (const image of input.images ?? IMAGE_NAMES) {
    const local = `${input.pipeline.project}/${image}:${target.tag}`;
    const remote = registries().environmentImageRef(input.cloud, input.pipeline, input.env, image, target);
    commands.push(
      ['docker', 'build', '--platform', 'linux/amd64', '--file', `containers/${image}/Dockerfile`, '--tag', local, '.'],
      ['docker', 'tag', local, remote],
      ['docker', 'push', remote],
    );
  }
  return commands;
}

/** One image's presence check: the command succeeds when the tag is already in its ECR repository. */
export interface ExistingImageCheck {
  image: ImageName;
  ref: string;
  /** The stack that declares the repository (MlStack-<env>-registry). */
  registryStack: string;
  command: string[];
}

/**
 * AWS only: the `aws ecr describe-images` call per image that tells whether its tag is already
 * pushed. ECR tags are immutable here, so pushing an existing tag again fails; `--skip-existing`
 * leaves such images alone.
 */
export function planExistingImageChecks(input: ImagePushPlanInput): ExistingImageCheck[] {
  if (input.cloud !== 'aws') throw new UsageError(`--skip-existing applies to --cloud aws only (ECR tags are immutable); ${input.cloud} overwrites a tag`);
  const target = resolvePushTarget(input);
  const region = configLoad().requireCloud(input.env, 'aws').aws.region;
  return (input.images ?? IMAGE_NAMES).map((image) => ({
    image,
    ref: registries().environmentImageRef('aws', input.pipeline, input.env, image, target),
    registryStack: awsRegistryStackName(input.env.name),
    command: [
      'aws', 'ecr', 'describe-images',
      '--region', region,
      '--registry-id', target.account!,
      '--repository-name', ecrRepositoryName(input.pipeline, input.env.name, image),
      '--image-ids', `imageTag=${target.tag}`,
    ],
  }));
}

/** Shell-quoted form of one command, as `--dry-run` prints it. */
export function formatCommand(argv: readonly string[]): string {
  return argv.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(' ');
}

interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Runs one command; stdout is inherited (or dropped when `quiet`), stderr inherited or captured. */
function runCommand(argv: readonly string[], cwd: string, quiet = false): Promise<CommandResult> {
  const [program, ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { cwd, env: process.env, stdio: ['ignore', quiet ? 'ignore' : 'inherit', quiet ? 'pipe' : 'inherit'] });
    let stderr = '';
    child.stderr?.on('data', (d) => (stderr += d));
    child.on('error', (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'ENOENT'
          ? new UsageError(`${program} not found on PATH: install it, or run with --dry-run to print the commands`)
          : err,
      ),
    );
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}

function failure(argv: readonly string[], result: CommandResult): string {
  return `${formatCommand(argv)} failed (${result.signal ? `signal ${result.signal}` : `exit ${result.code}`})`;
}

/** Runs the commands one after another with inherited output; rejects on the first failure. */
export async function runCommands(commands: readonly string[][], cwd: string): Promise<void> {
  for (const command of commands) {
    const result = await runCommand(command, cwd);
    if (result.code !== 0) throw new MlstackError('COMMAND_FAILED', failure(command, result));
  }
}

/**
 * Runs the presence checks: true for an image whose tag is already in ECR, false when ECR
 * answers ImageNotFoundException; any other failure (credentials, no repository) is an error.
 */
export async function existingImages(checks: readonly ExistingImageCheck[], cwd: string): Promise<Set<ImageName>> {
  const existing = new Set<ImageName>();
  for (const check of checks) {
    const result = await runCommand(check.command, cwd, true);
    if (result.code === 0) existing.add(check.image);
    else if (result.stderr.includes('RepositoryNotFoundException')) {
      throw new UsageError(`${check.ref}: its ECR repository does not exist yet: deploy the registry stack first (npx cdk deploy ${check.registryStack})`);
    } else if (!result.stderr.includes('ImageNotFoundException')) {
      throw new MlstackError('COMMAND_FAILED', `${failure(check.command, result)}: ${result.stderr.trim() || 'no error output'}`);
    }
  }
  return existing;
}

interface ImagesPushOptions {
  cloud: string;
  env: string;
  tag?: string;
  account?: string;
  image?: string[];
  skipExisting?: boolean;
  dryRun?: boolean;
  configDir: string;
  repoDir: string;
}

function parseImages(values: string[] | undefined): ImageName[] | undefined {
  if (!values) return undefined;
  for (const value of values) {
    if (!(IMAGE_NAMES as readonly string[]).includes(value)) {
      throw new UsageError(`--image "${value}": expected one of ${IMAGE_NAMES.join(', ')}`);
    }
  }
  return values as ImageName[];
}

function parseCloud(value: string): PushCloud {
  if (value === 'aws' || value === 'gcp' || value === 'azure') return value;
  throw new UsageError(`--cloud "${value}": expected aws, gcp or azure`);
}

async function pushImages(opts: ImagesPushOptions): Promise<void> {
  const envName = configLoad().assertEnvironmentName(opts.env);
  const config = configLoad().loadProjectConfig(path.resolve(opts.repoDir, opts.configDir));
  const input: ImagePushPlanInput = {
    cloud: parseCloud(opts.cloud),
    pipeline: config.pipeline,
    env: config.environments[envName],
    tag: opts.tag,
    account: opts.account,
    images: parseImages(opts.image),
  };
  const cwd = path.resolve(opts.repoDir);
  // Planned first, so a missing account or an unpinned tag fails before anything runs.
  let commands = planImagePush(input);
  if (opts.skipExisting) {
    const checks = planExistingImageChecks(input);
    if (opts.dryRun) {
      process.stdout.write(checks.map((c) => `# --skip-existing: ${c.image} is left out when this succeeds: ${formatCommand(c.command)}\n`).join(''));
    } else {
      const existing = await existingImages(checks, cwd);
      for (const check of checks.filter((c) => existing.has(c.image))) {
        process.stdout.write(`skipped ${check.ref}: already in ECR (its tags are immutable)\n`);
      }
      const missing = checks.map((c) => c.image).filter((image) => !existing.has(image));
      if (missing.length === 0) return;
      commands = planImagePush({ ...input, images: missing });
    }
  }
  if (opts.dryRun) {
    process.stdout.write(commands.map(formatCommand).join('\n') + '\n');
    return;
  }
  await runCommands(commands, cwd);
  process.stdout.write(`pushed ${commands.filter((c) => c[1] === 'push').map((c) => c[2]).join(', ')}\n`);
}

export function registerImagesCommand(program: Command): void {
  const images = program.command('images').description('container images (containers/*/Dockerfile)');
  images
    .command('push')
    .description(
      "build, tag and push the images to an environment's ECR repositories (aws: a pinned aws.image_tag; with `latest` " +
        'cdk deploy builds them as assets), Artifact Registry (gcp) or ACR (azure)',
    )
    .requiredOption('--cloud <cloud>', 'aws, gcp or azure')
    .requiredOption('--env <env>', 'dev, qa, staging or prod')
    .option('--tag <tag>', "image tag (default: the environment's <cloud>.image_tag)")
    .option('--account <id>', "aws: the account of the ECR registry (default: the environment's aws.account)")
    .option('--image <name...>', `only these images (${IMAGE_NAMES.join(', ')})`)
    .option('--skip-existing', 'aws: leave out images whose tag is already in ECR (tags are immutable there)')
    .option('--dry-run', 'print the commands instead of running them')
    .option('--config-dir <dir>', 'configuration folder', DEFAULT_CONFIG_DIR)
    .option('--repo-dir <dir>', 'repository root (the docker build context)', '.')
    .action(pushImages);
}
