import type { Command } from 'commander';
import { registerConfigCommand } from './config';
import { registerIngestCommand } from './ingest';
import { registerImagesCommand } from './images';
import { registerPromoteCommand } from './promote';
import { registerBatchCommand } from './batch';
import { registerInvokeCommand } from './invoke';
import { registerServeCommand } from './serve';
import { registerPipelineCommand } from './pipeline';
import { registerTrainCommand } from './train';
import { registerEvaluateCommand } from './evaluate';
import { registerRegisterCommand } from './register';
import { registerTuneCommand } from './tune';
import { registerRunsCommand } from './runs';
import { registerModelsCommand } from './models';
import { registerMonitorCommand } from './monitor';
import { registerUiCommand } from './ui';

/**
 * Every `mlstack` sub-command; each lives in its own file and stays a thin wrapper over runtime/.
 * A command file imports only what defining the command needs (commander types, runtime/contract,
 * ./defaults); its action require()s the implementation when it runs, so `mlstack --help` loads
 * neither TF.js, the cloud SDKs nor the config schemas (test/cli/lazy-commands.test.ts, bench/cli-startup.ts).
 * require() with a literal path, not import(): esbuild bundles it, and the CommonJS hooks that load .ts
 * (bin/ts-require.js, tsx, jest) see it.
 */
export function registerCommands(program: Command): void {
  registerConfigCommand(program);
  registerPipelineCommand(program);
  registerIngestCommand(program);
  registerTrainCommand(program);
  registerEvaluateCommand(program);
  registerRegisterCommand(program);
  registerTuneCommand(program);
  registerRunsCommand(program);
  registerModelsCommand(program);
  registerUiCommand(program);
  registerPromoteCommand(program);
  registerImagesCommand(program);
  registerServeCommand(program);
  registerInvokeCommand(program);
  registerBatchCommand(program);
  registerMonitorCommand(program);
}
