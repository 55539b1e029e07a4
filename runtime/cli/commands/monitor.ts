import type { Command } from 'commander';
import { DEFAULT_WORKDIR } from '../../contract/layout';
import { DEFAULT_CONFIG_DIR } from './defaults';
import { PROJECT_OPTION } from './options';

export interface MonitorCommandOptions {
  env: string;
  cloud: string;
  since?: string;
  data?: string;
  model?: string;
  labels?: string;
  json?: boolean;
  configDir: string;
  workdir: string;
  project?: string;
}

export function registerMonitorCommand(program: Command): void {
  program
    .command('monitor')
    .description("compare captured (or given) live data with the pinned model's training baseline: drift per feature and of the prediction, accuracy/AUC where labels join; exits 3 on drift")
    .requiredOption('--env <env>', 'environment whose pinned model, store and monitoring config to use')
    .option('--cloud <cloud>', 'store of that environment: local, aws, gcp or azure', 'local')
    .option('--since <iso>', 'only records captured at or after this time (ISO 8601)')
    .option('--data <path|key|uri>', 'CSV or JSONL file, store key or folder, or URI (default: the data-capture/ folder of the store)')
    .option('--model <version>', "registry version to compare with (default: the environment's model_version)")
    .option('--labels <path|key|uri>', 'ground truth by request id (default: monitoring.labels.key)')
    .option('--json', 'print the result as JSON')
    .option('--config-dir <dir>', 'configuration folder', DEFAULT_CONFIG_DIR)
    .option('--workdir <dir>', 'store root when --cloud local', DEFAULT_WORKDIR)
    .option(...PROJECT_OPTION)
    .action(async (opts: MonitorCommandOptions) => {
      const { runMonitorCommand } = require('./monitor-run') as typeof import('./monitor-run');
      await runMonitorCommand(opts, (text) => process.stdout.write(text));
    });
}
