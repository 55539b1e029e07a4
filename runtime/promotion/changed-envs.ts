/**
 * Which environments a change touches, so CI diffs and deploys only those:
 * a promotion edits config/environments/<env>.json and redeploys that one
 * environment; a change to shared code or config redeploys all of them.
 */
import { ENVIRONMENTS, hasCloud, type EnvironmentName, type ProjectConfig } from '../../config/schema';
import { awsStackName, awsStackNames, cdktfStackName } from '../contract/stack-names';

export { awsStackName, awsStackNames };

/** Paths whose change affects every environment's stacks or images. */
export const ALL_ENVIRONMENT_PATHS: readonly RegExp[] = [
  /^infra\//,
  /^runtime\//,
  /^containers\//,
  /^bin\//,
  /^config\/(pipeline|parser)\.json$/,
  /^config\/[^/]+\.ts$/,
  /^(package|package-lock)\.json$/,
  /^(cdk|cdktf)\.json$/,
];

const ENV_FILE = /^config\/environments\/([^/]+)\.json$/;

/** The environments (in promotion order) whose deployment `changedFiles` can change. */
export function changedEnvironments(changedFiles: readonly string[]): EnvironmentName[] {
  const touched = new Set<EnvironmentName>();
  for (const file of changedFiles) {
    if (ALL_ENVIRONMENT_PATHS.some((pattern) => pattern.test(file))) return [...ENVIRONMENTS];
    const env = ENV_FILE.exec(file)?.[1];
    if (env && (ENVIRONMENTS as readonly string[]).includes(env)) touched.add(env as EnvironmentName);
  }
  return ENVIRONMENTS.filter((env) => touched.has(env));
}

/** The cdktf stacks of an environment, `<cloud>-<env>`: the clouds it configures (both without a config). */
export function cdktfStackNamesFor(env: EnvironmentName, config?: ProjectConfig): string[] {
  return (['gcp', 'azure'] as const).filter((cloud) => !config || hasCloud(config.environments[env], cloud)).map((cloud) => cdktfStackName(cloud, env));
}

export interface ChangeSummary {
  environments: EnvironmentName[];
  /**
   * Both CDK stacks of each environment, registry first (MlStack-<env>-registry MlStack-<env>):
   * `cdk synth` selects only the stacks it is given, so the registry stack is named too.
   */
  awsStacks: string[];
  cdktfStacks: string[];
}

/** With the project's config, only the stacks of the clouds each environment configures are named. */
export function summarizeChanges(changedFiles: readonly string[], config?: ProjectConfig): ChangeSummary {
  const environments = changedEnvironments(changedFiles);
  return {
    environments,
    awsStacks: environments.filter((env) => !config || hasCloud(config.environments[env], 'aws')).flatMap(awsStackNames),
    cdktfStacks: environments.flatMap((env) => cdktfStackNamesFor(env, config)),
  };
}

/**
 * Lines for $GITHUB_OUTPUT. `nonprod` is a JSON array for a job matrix; `prod`
 * is "true" when prod changed (its job runs last, behind the protected environment).
 */
export function githubOutputs(summary: ChangeSummary): Record<string, string> {
  const nonprod = summary.environments.filter((env) => env !== 'prod');
  return {
    any: String(summary.environments.length > 0),
    environments: summary.environments.join(' '),
    aws_stacks: summary.awsStacks.join(' '),
    cdktf_stacks: summary.cdktfStacks.join(' '),
    nonprod: JSON.stringify(nonprod),
    has_nonprod: String(nonprod.length > 0),
    prod: String(summary.environments.includes('prod')),
  };
}
