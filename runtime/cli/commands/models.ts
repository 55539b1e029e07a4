import type { Command } from 'commander';
import { commandContext } from './options';
import { storeOptions, type StoreCommandOptions } from './runs';

export function registerModelsCommand(program: Command): void {
  const models = program.command('models').description('registered model versions of the project and where each is pinned: list, show');
  storeOptions(models.command('list').description('list versions with their run, test metrics and the environments pinning them'))
    .action(async (opts: StoreCommandOptions) => {
      const view = require('../models-view') as typeof import('../models-view');
      process.stdout.write(await view.listModels(await commandContext(opts), opts.json === true));
    });
  storeOptions(models.command('show').description('one version: where it is pinned (config/environments/*.json), metrics, lineage, files').argument('<version>', 'a version such as v3'))
    .action(async (version: string, opts: StoreCommandOptions) => {
      const view = require('../models-view') as typeof import('../models-view');
      process.stdout.write(await view.showModel(await commandContext(opts), version, opts.json === true));
    });
}
