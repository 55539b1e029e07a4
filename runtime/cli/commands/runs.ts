import type { Command } from 'commander';
import { DEFAULT_WORKDIR } from '../../contract/layout';
import { DEFAULT_CONFIG_DIR } from './defaults';
import { commandContext, PROJECT_OPTION, type ContextOptions } from './options';

export interface StoreCommandOptions extends ContextOptions {
  json?: boolean;
}

/** The options of the read-only listing commands (runs, models): which store and project, and --json. */
export function storeOptions(cmd: Command): Command {
  return cmd
    .option('--env <env>', 'environment whose store to read: dev, qa, staging or prod', 'dev')
    .option('--cloud <cloud>', 'store of that environment: local, aws, gcp or azure', 'local')
    .option('--config-dir <dir>', 'configuration folder', DEFAULT_CONFIG_DIR)
    .option('--workdir <dir>', 'store root when --cloud local', DEFAULT_WORKDIR)
    .option(...PROJECT_OPTION)
    .option('--json', 'print JSON');
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function registerRunsCommand(program: Command): void {
  const runs = program.command('runs').description('tracked training runs of the project (its experiment): list, show, compare');
  storeOptions(runs.command('list').description('list tracked runs with their differing params and test metrics'))
    .option('--sort <metric>', 'sort by a test or validation metric (best first: losses and errors ascending, others descending)')
    .option('--filter <key=value>', 'keep runs whose param, metric, tag.<name> or lineage field has this value (repeatable)', collect, [])
    .action(async (opts: StoreCommandOptions & { sort?: string; filter: string[] }) => {
      const view = require('../runs-view') as typeof import('../runs-view');
      process.stdout.write(await view.listRuns(await commandContext(opts), { sort: opts.sort, filter: opts.filter, json: opts.json === true }));
    });
  storeOptions(runs.command('show').description("one run: params, metrics, epochs, system, tags, artifacts, lineage").argument('<run-id>', 'the run id'))
    .action(async (runId: string, opts: StoreCommandOptions) => {
      const view = require('../runs-view') as typeof import('../runs-view');
      process.stdout.write(await view.showRun(await commandContext(opts), runId, opts.json === true));
    });
  storeOptions(runs.command('compare').description('runs side by side: params, metrics and lineage, differences marked with *').argument('<run-ids...>', 'two or more run ids'))
    .action(async (runIds: string[], opts: StoreCommandOptions) => {
      const view = require('../runs-view') as typeof import('../runs-view');
      process.stdout.write(await view.compareRunIds(await commandContext(opts), runIds, opts.json === true));
    });
}
