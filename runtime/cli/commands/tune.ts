import { Option, type Command } from 'commander';
import type { TuningConfig } from '../../../config/schema';
import { DEFAULT_CONFIG_DIR, TUNING_STRATEGIES } from './defaults';
import { commandContext, PROJECT_OPTION, wholeNumber } from './options';
import { DEFAULT_WORKDIR } from '../../contract/layout';

interface TuneCommandOptions {
  env: string;
  cloud: string;
  data?: string;
  configDir: string;
  workdir: string;
  study?: string;
  trials?: number;
  strategy?: TuningConfig['strategy'];
  json?: boolean;
  project?: string;
}

export function registerTuneCommand(program: Command): void {
  program
    .command('tune')
    .description('search pipeline.json tuning.search_space (random or successive halving); every trial is saved as it ends and a repeated --study resumes')
    .requiredOption('--env <env>', 'environment: dev, qa, staging or prod')
    .requiredOption('--cloud <cloud>', 'store to use: local, aws, gcp or azure')
    .option('--data <uri>', 'CSV file, folder or object URI; default: the newest processed run in the store')
    .option('--config-dir <dir>', 'configuration folder', DEFAULT_CONFIG_DIR)
    .option('--workdir <dir>', 'store root when --cloud local', DEFAULT_WORKDIR)
    .option(...PROJECT_OPTION)
    .option('--study <id>', 'study id; repeating one resumes it')
    .option('--trials <n>', 'override tuning.trials', wholeNumber('--trials', { min: 1 }))
    .addOption(new Option('--strategy <name>', 'override tuning.strategy').choices(TUNING_STRATEGIES))
    .option('--json', 'print the study as JSON')
    .action(async (opts: TuneCommandOptions) => {
      const { createLogger } = require('../../common/logger') as typeof import('../../common/logger');
      const { newRunId } = require('../../common/paths') as typeof import('../../common/paths');
      const { resolveData } = require('../../training/locate') as typeof import('../../training/locate');
      const { tune } = require('../../training/tuning') as typeof import('../../training/tuning');
      const ctx = await commandContext(opts);
      const data = await resolveData(ctx, opts.data);
      const studyId = opts.study ?? `study-${newRunId()}`;
      const overrides: Partial<TuningConfig> = {};
      if (opts.trials !== undefined) overrides.trials = opts.trials;
      if (opts.strategy) overrides.strategy = opts.strategy;
      const controller = new AbortController();
      process.once('SIGTERM', () => controller.abort());
      const study = await tune({
        project: ctx.project,
        store: ctx.store,
        dataStore: data.store,
        dataKeys: data.keys,
        studyId,
        studyPrefix: `${ctx.paths.state}studies/`,
        modelsPrefix: ctx.paths.models,
        checkpointsPrefix: ctx.paths.checkpoints,
        tuning: overrides,
        logger: createLogger('tune'),
        signal: controller.signal,
        tracking: { store: ctx.store, env: ctx.envName, cloud: ctx.cloud },
      });
      if (opts.json) {
        process.stdout.write(JSON.stringify(study, null, 2) + '\n');
        return;
      }
      const rows = study.trials.map((t) => `  ${t.trial_id.padEnd(8)} epochs ${String(t.epochs).padStart(3)}  ${study.metric} ${t.metric === null ? 'failed' : t.metric.toFixed(4)}  ${JSON.stringify(t.params)}`);
      process.stdout.write(
        `study ${study.study_id} (${study.strategy}, ${study.trials.length} trials, ${study.status})\n${rows.join('\n')}\n` +
          (study.best ? `best: ${study.best.trial_id} ${study.metric} ${study.best.metric.toFixed(4)} -> ${ctx.store.uri(study.best.package_prefix)}\n` : 'no successful trial\n'),
      );
    });
}
