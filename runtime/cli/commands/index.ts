import type { Command } from 'commander';
import { registerConfigCommand } from './config';

/** Every `mlstack` sub-command; each lives in its own file and stays a thin wrapper over runtime/. */
export function registerCommands(program: Command): void {
  registerConfigCommand(program);
}
