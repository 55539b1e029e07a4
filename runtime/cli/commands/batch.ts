import { Option, type Command } from 'commander';
import type { BatchFormat } from '../../serving/batch';
import { DEFAULT_WORKDIR } from '../../contract/layout';
import { BATCH_FORMATS, DEFAULT_CONFIG_DIR } from './defaults';
import { PROJECT_OPTION, wholeNumber } from './options';

interface BatchCommandOptions {
  model: string;
  input: string;
  output: string;
  format?: BatchFormat;
  chunkSize: number;
  workdir: string;
  configDir: string;
  project?: string;
}

export function registerBatchCommand(program: Command): void {
  program
    .command('batch')
    .description('batch transform: stream a CSV or JSONL file through a model in chunks (flat memory) and write predictions')
    .requiredOption('--model <source>', 'registry version, model package folder, or file:// s3:// gs:// az:// URI')
    .requiredOption('--input <uri>', 'CSV (with a header) or JSONL: a path or file:// s3:// gs:// az:// URI')
    .requiredOption('--output <uri>', 'where to write the predictions (same formats)')
    .addOption(new Option('--format <format>', 'input and output format (default: from the input extension)').choices(BATCH_FORMATS))
    .option('--chunk-size <rows>', 'rows per chunk', wholeNumber('--chunk-size', { min: 1 }), 1000)
    .option('--workdir <dir>', 'local store holding the registry (for versions)', DEFAULT_WORKDIR)
    .option('--config-dir <dir>', "configuration folder (its pipeline.json's project owns the versions)", DEFAULT_CONFIG_DIR)
    .option(...PROJECT_OPTION)
    .action(async (opts: BatchCommandOptions) => {
      const { createLogger } = require('../../common/logger') as typeof import('../../common/logger');
      const { batchTransform } = require('../../serving/batch') as typeof import('../../serving/batch');
      const { loadPredictor } = require('../../serving/load') as typeof import('../../serving/load');
      const { lookupProject } = require('../../context') as typeof import('../../context');
      const predictor = await loadPredictor(opts.model, { workdir: opts.workdir, project: lookupProject(opts.configDir, opts.project) });
      const summary = await batchTransform({
        predictor,
        input: opts.input,
        output: opts.output,
        format: opts.format,
        chunkRows: opts.chunkSize,
        logger: createLogger('batch'),
      });
      process.stdout.write(`${JSON.stringify(summary)}\n`);
    });
}
