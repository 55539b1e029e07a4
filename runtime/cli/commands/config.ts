import type { Command } from 'commander';
import { DEFAULT_CONFIG_DIR, loadProjectConfig } from '../../../config/load';
import { ENVIRONMENTS } from '../../../config/schema';

export function registerConfigCommand(program: Command): void {
  const config = program.command('config').description('inspect and check the project configuration');
  config
    .command('validate')
    .description('validate config/pipeline.json, parser.json and environments/*.json; exits 2 on any error')
    .option('--config-dir <dir>', 'configuration folder', DEFAULT_CONFIG_DIR)
    .action((opts: { configDir: string }) => {
      const project = loadProjectConfig(opts.configDir);
      const pinned = ENVIRONMENTS.map((e) => `${e}=${project.environments[e].model_version ?? '(none)'}`).join(' ');
      process.stdout.write(`config OK: ${project.dir} (features: ${project.pipeline.features.length}, pinned models: ${pinned})\n`);
    });
}
