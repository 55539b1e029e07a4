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

/** Every `mlstack` sub-command; each lives in its own file and stays a thin wrapper over runtime/. */
export function registerCommands(program: Command): void {
  registerConfigCommand(program);
  registerPipelineCommand(program);
  registerIngestCommand(program);
  registerTrainCommand(program);
  registerEvaluateCommand(program);
  registerRegisterCommand(program);
  registerTuneCommand(program);
  registerPromoteCommand(program);
  registerImagesCommand(program);
  registerServeCommand(program);
  registerInvokeCommand(program);
  registerBatchCommand(program);
}
