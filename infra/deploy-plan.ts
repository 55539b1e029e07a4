/**
 * What the deploy workflow does for one environment, in the order a first deploy needs: registries first, then
 * the images, then the stacks whose services run them.
 *
 *   node bin/run-ts.js infra/deploy-plan.ts --env <env> [--config-dir config] [--github-output <file>]
 *
 * prints (and appends to $GITHUB_OUTPUT) one line per output:
 *   aws / gcp / azure          true when the environment configures that cloud
 *   aws_images                 pinned (CI pushes to MlStack-<env>-registry) or assets (cdk deploy builds them)
 *   gcp_registry_targets       -target flags of the gcp-<env> stack's registry (terraform apply before the push)
 *   azure_registry_targets     the same for azure-<env>
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { assertEnvironmentName, DEFAULT_CONFIG_DIR, loadProjectConfig } from '../config/load';
import { hasCloud, type EnvironmentName, type ProjectConfig } from '../config/schema';
import { UNPINNED_IMAGE_TAG } from '../runtime/contract/images';
import { cdktfStackName } from '../runtime/contract/stack-names';
import { buildCdktfApp } from './cdktf/app';

export interface DeployPlan {
  aws: boolean;
  aws_images: 'pinned' | 'assets' | 'none';
  gcp: boolean;
  gcp_registry_targets: string;
  azure: boolean;
  azure_registry_targets: string;
}

/** The registry resources of one cdktf stack, as terraform -target flags. */
function registryTargets(config: ProjectConfig, cloud: 'gcp' | 'azure', env: EnvironmentName): string {
  const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-deploy-plan-'));
  try {
    const app = buildCdktfApp({ config, outdir, clouds: [cloud], environments: [env], backendEnv: {} });
    const stack = app.node.findChild(cdktfStackName(cloud, env)) as unknown as { registryTargets: string[] };
    return stack.registryTargets.map((address) => `-target=${address}`).join(' ');
  } finally {
    fs.rmSync(outdir, { recursive: true, force: true });
  }
}

export function deployPlan(config: ProjectConfig, env: EnvironmentName): DeployPlan {
  const environment = config.environments[env];
  const aws = hasCloud(environment, 'aws');
  const gcp = hasCloud(environment, 'gcp');
  const azure = hasCloud(environment, 'azure');
  return {
    aws,
    aws_images: !aws ? 'none' : environment.aws!.image_tag === UNPINNED_IMAGE_TAG ? 'assets' : 'pinned',
    gcp,
    gcp_registry_targets: gcp ? registryTargets(config, 'gcp', env) : '',
    azure,
    azure_registry_targets: azure ? registryTargets(config, 'azure', env) : '',
  };
}

export function formatOutputs(plan: DeployPlan): string {
  return Object.entries(plan)
    .map(([key, value]) => `${key}=${String(value)}\n`)
    .join('');
}

function main(argv: string[]): number {
  try {
    const { values } = parseArgs({ args: argv, options: { env: { type: 'string' }, 'config-dir': { type: 'string' }, 'github-output': { type: 'string' } }, strict: true });
    if (!values.env) throw new Error('--env <dev|qa|staging|prod> is required');
    const lines = formatOutputs(deployPlan(loadProjectConfig(values['config-dir'] ?? DEFAULT_CONFIG_DIR), assertEnvironmentName(values.env)));
    process.stdout.write(lines);
    if (values['github-output']) fs.appendFileSync(values['github-output'], lines);
    return 0;
  } catch (err) {
    process.stderr.write(`deploy-plan: ${(err as Error).message}\n`);
    return 2;
  }
}

if (path.resolve(process.argv[1] ?? '') === __filename) process.exitCode = main(process.argv.slice(2));
