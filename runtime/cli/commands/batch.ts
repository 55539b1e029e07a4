import type { Command } from 'commander';
import type { BatchFormat } from '../../serving/batch';
import { UsageError } from '../errors';
import { DEFAULT_WORKDIR } from '../../contract/layout';

interface BatchCommandOptions {
  model: string;
  input: string;
  output: string;
  format?: string;
  chunkSize: string;
  workdir: string;
}

export function registerBatchCommand(program: Command): void {
  program
    .command('batch')
    .description('batch transform: stream a CSV or JSONL file through a model in chunks (flat memory) and write predictions')
    .requiredOption('--model <source>', 'registry version, model package folder, or file:// s3:// gs:// az:// URI')
    .requiredOption('--input <uri>', 'CSV (with a header) or JSONL: a path or file:// s3:// gs:// az:// URI')
    .requiredOption('--output <uri>', 'where to write the predictions (same formats)')
    .option('--format <format>', 'csv or jsonl (default: from the input extension)')
    .option('--chunk-size <rows>', 'rows per chunk', '1000')
    .option('--workdir <dir>', 'local store holding the registry (for versions)', DEFAULT_WORKDIR)
    .action(async (opts: BatchCommandOptions) => {
      if (opts.format !== undefined && opts.format !== 'csv' && opts.format !== 'jsonl') throw new UsageError(`--format "${opts.format}": expected csv or jsonl`);
      const chunkRows = Number(opts.chunkSize);
      if (!Number.isInteger(chunkRows) || chunkRows <= 0) throw new UsageError(`--chunk-size "${opts.chunkSize}": expected a positive integer`);
      const { createLogger } = require('../../common/logger') as typeof import('../../common/logger');
      const { batchTransform } = require('../../serving/batch') as typeof import('../../serving/batch');
      const { loadPredictor } = require('../../serving/load') as typeof import('../../serving/load');
      const predictor = await loadPredictor(opts.model, { workdir: opts.workdir });
      const summary = await batchTransform({
        predictor,
        input: opts.input,
        output: opts.output,
        format: opts.format as BatchFormat | undefined,
        chunkRows,
        logger: createLogger('batch'),
      });
      process.stdout.write(`${JSON.stringify(summary)}\n`);
    });
}
