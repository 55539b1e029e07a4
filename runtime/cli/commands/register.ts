import type { Command } from 'commander';
import { DEFAULT_CONFIG_DIR } from '../../../config/load';
import { registerTrainedModel } from '../../training/register';
import { openEnvironment } from '../../training/locate';
import { parseCloud } from './options';

interface RegisterCommandOptions {
  env: string;
  cloud: string;
  model: string;
  configDir: string;
  workdir: string;
  parentRun?: string;
  json?: boolean;
}

export function registerRegisterCommand(program: Command): void {
  program
    .command('register')
    .description('register a trained model package as the next version (v1, v2, ...) with its lineage; --cloud aws also creates a SageMaker model package')
    .requiredOption('--env <env>', 'environment: dev, qa, staging or prod')
    .requiredOption('--cloud <cloud>', 'store holding the registry: local, aws, gcp or azure')
    .requiredOption('--model <run-id|uri>', 'a run id under the models path, or the package folder / URI')
    .option('--config-dir <dir>', 'configuration folder', DEFAULT_CONFIG_DIR)
    .option('--workdir <dir>', 'store root when --cloud local', '.mlstack')
    .option('--parent-run <id>', 'the run this model was derived from (tuning study, retraining)')
    .option('--json', 'print the version record as JSON')
    .action(async (opts: RegisterCommandOptions) => {
      const ctx = await openEnvironment({ env: opts.env, cloud: parseCloud(opts.cloud, true), configDir: opts.configDir, workdir: opts.workdir });
      const version = await registerTrainedModel(ctx, opts.model, opts.parentRun ?? null);
      if (opts.json) {
        process.stdout.write(JSON.stringify(version, null, 2) + '\n');
        return;
      }
      process.stdout.write(
        `registered ${version.project} ${version.version} (run ${version.lineage.run_id})\n  package: ${version.package_uri}\n` +
          (version.sagemaker_model_package_arn ? `  SageMaker model package: ${version.sagemaker_model_package_arn}\n` : ''),
      );
    });
}
