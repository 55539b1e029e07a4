import type { Command } from 'commander';
import { registerConfigCommand } from './config';
import { registerIngestCommand } from './ingest';
import { registerImagesCommand } from './images';
import { registerPromoteCommand } from './promote';

/** Every `mlstack` sub-command; each lives in its own file and stays a thin wrapper over runtime/. */
export function registerCommands(program: Command): void {
  registerConfigCommand(program);
  registerIngestCommand(program);
  registerPromoteCommand(program);
  registerImagesCommand(program);
}
