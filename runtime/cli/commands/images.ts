import { spawn } from 'node:child_process';
import * as path from 'node:path';
import type { Command } from 'commander';
import { assertEnvironmentName, DEFAULT_CONFIG_DIR, loadProjectConfig, requireCloud } from '../../../config/load';
import type { EnvironmentConfig, PipelineConfig } from '../../../config/schema';
import { azureRegistryName, IMAGE_NAMES, imageRegistryHost, type ImageName, type PushCloud } from '../../contract/image-registries';
import { UsageError } from '../errors';

export interface ImagePushPlanInput {
  cloud: PushCloud;
  pipeline: PipelineConfig;
  env: EnvironmentConfig;
  /** @default the environment's <cloud>.image_tag */
  tag?: string;
  /** @default all three images */
  images?: readonly ImageName[];
}

/**
 * The commands that build, tag and push the images to one environment's registry,
 * in order: registry login, then per image `docker build` (context = repository root,
 * linux/amd64 as the clouds run it), `docker tag`, `docker push`.
 */
export function planImagePush(input: ImagePushPlanInput): string[][] {
  const registry = imageRegistryHost(input.cloud, input.pipeline, input.env);
  const tag = input.tag ?? requireCloud(input.env, input.cloud)[input.cloud].image_tag;
  const login =
    input.cloud === 'gcp'
      ? ['gcloud', 'auth', 'configure-docker', registry.split('/')[0], '--quiet']
      : ['az', 'acr', 'login', '--name', azureRegistryName(input.pipeline, input.env)];
  const commands: string[][] = [login];
  for (const image of input.images ?? IMAGE_NAMES) {
    const local = `${input.pipeline.project}/${image}:${tag}`;
    const remote = `${registry}/${image}:${tag}`;
    commands.push(
      ['docker', 'build', '--platform', 'linux/amd64', '--file', `containers/${image}/Dockerfile`, '--tag', local, '.'],
      ['docker', 'tag', local, remote],
      ['docker', 'push', remote],
    );
  }
  return commands;
}

/** Shell-quoted form of one command, as `--dry-run` prints it. */
export function formatCommand(argv: readonly string[]): string {
  return argv.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** Runs the commands one after another with inherited output; rejects on the first failure. */
export async function runCommands(commands: readonly string[][], cwd: string): Promise<void> {
  for (const [program, ...args] of commands) {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(program, args, { cwd, env: process.env, stdio: ['ignore', 'inherit', 'inherit'] });
      child.on('error', (err: NodeJS.ErrnoException) =>
        reject(
          err.code === 'ENOENT'
            ? new UsageError(`${program} not found on PATH: install it, or run with --dry-run to print the commands`)
            : err,
        ),
      );
      child.on('exit', (code, signal) => {
        if (code === 0) resolve();
        else reject(new Error(`${formatCommand([program, ...args])} failed (${signal ? `signal ${signal}` : `exit ${code}`})`));
      });
    });
  }
}

interface ImagesPushOptions {
  cloud: string;
  env: string;
  tag?: string;
  image?: string[];
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

export function registerImagesCommand(program: Command): void {
  const images = program.command('images').description('container images (containers/*/Dockerfile)');
  images
    .command('push')
    .description("build, tag and push the images to an environment's Artifact Registry (gcp) or ACR (azure); AWS pushes them as CDK assets")
    .requiredOption('--cloud <cloud>', 'gcp or azure')
    .requiredOption('--env <env>', 'dev, qa, staging or prod')
    .option('--tag <tag>', "image tag (default: the environment's <cloud>.image_tag)")
    .option('--image <name...>', `only these images (${IMAGE_NAMES.join(', ')})`)
    .option('--dry-run', 'print the commands instead of running them')
    .option('--config-dir <dir>', 'configuration folder', DEFAULT_CONFIG_DIR)
    .option('--repo-dir <dir>', 'repository root (the docker build context)', '.')
    .action(async (opts: ImagesPushOptions) => {
      if (opts.cloud !== 'gcp' && opts.cloud !== 'azure') {
        throw new UsageError(`--cloud "${opts.cloud}": expected gcp or azure (AWS images are CDK assets: npx cdk deploy MlStack-<env>)`);
      }
      const envName = assertEnvironmentName(opts.env);
      const config = loadProjectConfig(path.resolve(opts.repoDir, opts.configDir));
      const commands = planImagePush({
        cloud: opts.cloud,
        pipeline: config.pipeline,
        env: config.environments[envName],
        tag: opts.tag,
        images: parseImages(opts.image),
      });
      if (opts.dryRun) {
        process.stdout.write(commands.map(formatCommand).join('\n') + '\n');
        return;
      }
      await runCommands(commands, path.resolve(opts.repoDir));
      process.stdout.write(`pushed ${commands.filter((c) => c[1] === 'push').map((c) => c[2]).join(', ')}\n`);
    });
}
