import type { Command } from 'commander';
import { DEFAULT_WORKDIR } from '../../contract/layout';
import { DEFAULT_CONFIG_DIR } from './defaults';
import { commandContext, PROJECT_OPTION, wholeNumber } from './options';

interface TrainCommandOptions {
  env: string;
  cloud: string;
  data?: string;
  configDir: string;
  workdir: string;
  runId?: string;
  json?: boolean;
  register?: boolean;
  epochs?: number;
  image?: string;
  project?: string;
}

export function registerTrainCommand(program: Command): void {
  program
    .command('train')
    .description('train the model from config/pipeline.json on processed CSV; resumes a run id from its checkpoints (see docs/training.md)')
    .requiredOption('--env <env>', 'environment: dev, qa, staging or prod')
    .requiredOption('--cloud <cloud>', 'store to use: local, aws, gcp or azure')
    .option('--data <uri>', 'CSV file, folder or s3:// gs:// az:// URI; default: the newest complete processed run in the store')
    .option('--config-dir <dir>', 'configuration folder', DEFAULT_CONFIG_DIR)
    .option('--workdir <dir>', 'store root when --cloud local', DEFAULT_WORKDIR)
    .option(...PROJECT_OPTION)
    .option('--run-id <id>', 'run id; repeating one resumes it from its last checkpoint')
    .option('--epochs <n>', 'override training_params.epochs', wholeNumber('--epochs', { min: 1 }))
    .option('--register', 'also register the model as a new registry version')
    .option('--image <uri>', 'with --register --cloud aws: the serving image the SageMaker model package records')
    .option('--json', 'print the result as JSON')
    .action(async (opts: TrainCommandOptions) => {
      const { createLogger } = require('../../common/logger') as typeof import('../../common/logger');
      const { newRunId } = require('../../common/paths') as typeof import('../../common/paths');
      const { registerPackage, servingImageFor } = require('../../training/register') as typeof import('../../training/register');
      const { train } = require('../../training') as typeof import('../../training');
      const { resolveData } = require('../../training/locate') as typeof import('../../training/locate');
      const ctx = await commandContext(opts);
      // Checked before training: a registration that cannot name its serving image must not cost a training run.
      const servingImage = opts.register && ctx.cloud === 'aws' ? servingImageFor(ctx, opts.image) : undefined;
      const data = await resolveData(ctx, opts.data);
      const runId = opts.runId ?? newRunId();
      const result = await train({
        project: ctx.project,
        store: ctx.store,
        dataStore: data.store,
        dataKeys: data.keys,
        runId,
        modelsPrefix: ctx.paths.models,
        checkpointsPrefix: ctx.paths.checkpoints,
        logger: createLogger('train'),
        progress: opts.json ? 'none' : 'auto',
        overrides: opts.epochs !== undefined ? { epochs: opts.epochs } : undefined,
        tracking: { store: ctx.store, source: 'train', env: ctx.envName, cloud: ctx.cloud },
      });
      const registration = opts.register ? await registerPackage(ctx, { source: result.packagePrefix, dataUri: result.dataUri, servingImage }) : undefined;
      const version = registration?.version;
      if (opts.json) {
        process.stdout.write(
          JSON.stringify({ ...result, version: version?.version ?? null, artifact_uri: version?.artifact_uri ?? null, already_registered: registration ? !registration.created : null }, null, 2) + '\n',
        );
        return;
      }
      const m = result.metrics;
      const headline = result.task === 'regression' ? `rmse ${m.rmse} r2 ${m.r2}` : result.task === 'binary' ? `auc ${m.auc} accuracy ${m.accuracy} f1 ${m.f1}` : `accuracy ${m.accuracy} f1 ${m.f1}`;
      process.stdout.write(
        `trained run ${result.runId} (${result.task}, ${result.epochs} epochs${result.resumedFromEpoch !== null ? `, resumed from epoch ${result.resumedFromEpoch}` : ''}, backend ${result.backend})\n` +
          `  test: ${headline}\n  package: ${ctx.store.uri(result.packagePrefix)}\n  report:  ${ctx.store.uri(result.reportKey)}\n` +
          (version ? `  ${registration?.created ? 'registered as' : 'already registered as'} ${version.version}: ${version.artifact_uri}\n` : ''),
      );
    });
}
