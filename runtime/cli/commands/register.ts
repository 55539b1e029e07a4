import type { Command } from 'commander';
import { DEFAULT_WORKDIR } from '../../contract/layout';
import type { Registration } from '../../training/register';
import { DEFAULT_CONFIG_DIR } from './defaults';
import { commandContext, PROJECT_OPTION } from './options';

interface RegisterCommandOptions {
  env: string;
  cloud: string;
  model: string;
  configDir: string;
  workdir: string;
  parentRun?: string;
  image?: string;
  force?: boolean;
  json?: boolean;
  project?: string;
}

/** What `register` prints: the version, or that a version already held this package. */
export function describeRegistration({ version, created }: Registration): string {
  const lines = created
    ? [`registered ${version.project} ${version.version} (run ${version.lineage.run_id})`]
    : [`${version.project} ${version.version} already holds run ${version.lineage.run_id} (same data and config): no new version registered; pass --force for one`];
  lines.push(`  package: ${version.package_uri}`);
  if (version.artifact_uri) lines.push(`  archive: ${version.artifact_uri}`);
  if (version.sagemaker_model_package_arn) lines.push(`  SageMaker model package: ${version.sagemaker_model_package_arn}`);
  return `${lines.join('\n')}\n`;
}

export function registerRegisterCommand(program: Command): void {
  program
    .command('register')
    .description(
      'register a trained model package as the next version (v1, v2, ...): copies it with its model.tar.gz into the version folder and records its lineage; --cloud aws also creates a SageMaker model package',
    )
    .requiredOption('--env <env>', 'environment: dev, qa, staging or prod')
    .requiredOption('--cloud <cloud>', 'store holding the registry: local, aws, gcp or azure')
    .requiredOption('--model <run-id|uri>', 'a run id under the models path, or the package folder / URI')
    .option('--config-dir <dir>', 'configuration folder', DEFAULT_CONFIG_DIR)
    .option('--workdir <dir>', 'store root when --cloud local', DEFAULT_WORKDIR)
    .option(...PROJECT_OPTION)
    .option('--parent-run <id>', 'the run this model was derived from (tuning study, retraining)')
    .option('--image <uri>', '--cloud aws: the serving image the SageMaker model package records (default: from aws.account and a pinned aws.image_tag)')
    .option('--force', 'register a new version even when a version already holds this run, data and config')
    .option('--json', 'print the version record as JSON (with "already_registered")')
    .action(async (opts: RegisterCommandOptions) => {
      const { registerTrainedModel } = require('../../training/register') as typeof import('../../training/register');
      const ctx = await commandContext(opts);
      const registration = await registerTrainedModel(ctx, opts.model, { parentRun: opts.parentRun ?? null, servingImage: opts.image, force: opts.force === true });
      if (opts.json) {
        process.stdout.write(JSON.stringify({ ...registration.version, already_registered: !registration.created }, null, 2) + '\n');
        return;
      }
      process.stdout.write(describeRegistration(registration));
    });
}
