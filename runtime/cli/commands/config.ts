import type { Command } from 'commander';
import { DEFAULT_CONFIG_DIR } from './defaults';

export function registerConfigCommand(program: Command): void {
  const config = program.command('config').description('inspect and check the project configuration');
  config
    .command('validate')
    .description('validate config/pipeline.json, parser.json and environments/*.json; exits 2 on any error')
    .option('--config-dir <dir>', 'configuration folder', DEFAULT_CONFIG_DIR)
    .action((opts: { configDir: string }) => {
      const { loadProjectConfig } = require('../../../config/load') as typeof import('../../../config/load');
      const { ENVIRONMENTS } = require('../../../config/schema') as typeof import('../../../config/schema');
      const project = loadProjectConfig(opts.configDir);
      const pinned = ENVIRONMENTS.map((e) => `${e}=${project.environments[e].model_version ?? '(none)'}`).join(' ');
      process.stdout.write(`config OK: ${project.dir} (features: ${project.pipeline.features.length}, pinned models: ${pinned})\n`);
    });
  config
    .command('import')
    .description('writes this layout (pipeline.json, parser.json, environments/) from a seed-style config.json + project_parser_config.json (docs/config-import.md)')
    .requiredOption('--from <dir>', 'folder holding config.json and project_parser_config.json')
    .option('--out <dir>', 'configuration folder to write', DEFAULT_CONFIG_DIR)
    .option('--project <name>', 'pipeline.json project (default: derived from endpoint_name)')
    .option('--force', 'replace files that exist in --out')
    .action((opts: { from: string; out: string; project?: string; force?: boolean }) => {
      const { importSeedProject } = require('../../../config/import') as typeof import('../../../config/import');
      const { project, written, notes } = importSeedProject(opts);
      process.stdout.write(`imported ${opts.from} into ${project.dir} (project ${project.pipeline.project}):\n`);
      for (const file of written) process.stdout.write(`  wrote ${file}\n`);
      process.stdout.write(`review:\n${notes.map((n) => `  - ${n}`).join('\n')}\n`);
    });
}
