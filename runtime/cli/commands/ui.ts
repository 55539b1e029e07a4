import type { Command } from 'commander';
import { DEFAULT_WORKDIR } from '../../contract/layout';
import { DEFAULT_CONFIG_DIR } from './defaults';
import { commandContext, parsePort, PROJECT_OPTION, untilStopSignal, type ContextOptions } from './options';

interface UiOptions extends ContextOptions {
  port: number;
  host: string;
}

export const DEFAULT_UI_PORT = 5050;

export function registerUiCommand(program: Command): void {
  program
    .command('ui')
    .description('read-only local web app: experiments, runs (curves, side by side), versions (reports, where pinned); Ctrl-C stops it')
    .option('--env <env>', 'environment whose store to read: dev, qa, staging or prod', 'dev')
    .option('--cloud <cloud>', 'store of that environment: local, aws, gcp or azure', 'local')
    .option('--config-dir <dir>', 'configuration folder (project, and the pins in environments/*.json)', DEFAULT_CONFIG_DIR)
    .option('--workdir <dir>', 'store root when --cloud local', DEFAULT_WORKDIR)
    .option(...PROJECT_OPTION)
    .option('--port <n>', `port (0 = a free one)`, parsePort, DEFAULT_UI_PORT)
    .option('--host <host>', 'interface to listen on (another than loopback exposes your runs to the network)', '127.0.0.1')
    .action(async (opts: UiOptions) => {
      const { createLogger } = require('../../common/logger') as typeof import('../../common/logger');
      const { startUiServer } = require('../../ui/server') as typeof import('../../ui/server');
      const logger = createLogger('ui');
      const { UsageError } = require('../errors') as typeof import('../errors');
      const ctx = await commandContext(opts);
      const ui = await startUiServer({ ctx, port: opts.port, host: opts.host, logger }).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EADDRINUSE' && err.code !== 'EADDRNOTAVAIL') throw err;
        throw new UsageError(`mlstack ui cannot listen on ${opts.host}:${opts.port} (${err.code}): pass another --port (0 picks a free one) or --host`);
      });
      process.stdout.write(`mlstack ui at ${ui.url} (read-only; Ctrl-C stops it)\n`);
      await untilStopSignal();
      await ui.close();
    });
}
