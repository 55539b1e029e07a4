import type { Command } from 'commander';
import type { IngestRequest } from '../../ingestion/entrypoint';
import { DEFAULT_WORKDIR } from '../../contract/layout';
import { DEFAULT_CONFIG_DIR } from './defaults';

type IngestOptions = Omit<IngestRequest, 'logger'> & { json?: boolean };

export function registerIngestCommand(program: Command): void {
  program
    .command('ingest')
    .description('fetch a source into raw JSONL, then processed CSV + quarantine + quality report (see docs/ingestion.md)')
    .requiredOption('--env <env>', 'environment: dev, qa, staging or prod')
    .requiredOption('--cloud <cloud>', 'store to write to: local, aws, gcp or azure')
    .option('--source <source>', 'http(s) API URL, .csv/.jsonl path or s3:// gs:// az:// URI, postgres:// or mysql:// URL; default: the built-in sample API')
    .option('--config-dir <dir>', 'configuration folder', DEFAULT_CONFIG_DIR)
    .option('--workdir <dir>', 'store root when --cloud local', DEFAULT_WORKDIR)
    .option('--run-id <id>', 'repeat (idempotent) or resume a run')
    .option('--json', 'print the result as JSON')
    .action(async (opts: IngestOptions) => {
      const { createLogger } = require('../../common/logger') as typeof import('../../common/logger');
      const { ingest } = require('../../ingestion/entrypoint') as typeof import('../../ingestion/entrypoint');
      const result = await ingest({ ...opts, logger: createLogger('ingest') });
      if (opts.json) {
        process.stdout.write(JSON.stringify(result, null, 2) + '\n');
        return;
      }
      const { fetched, processed, quarantined } = result.rows;
      process.stdout.write(
        `ingested run ${result.runId}: ${fetched} fetched, ${processed} processed, ${quarantined} quarantined (watermark ${String(result.watermark ?? 'none')})\n` +
          `  processed:  ${result.processedKey}\n  quarantine: ${result.quarantineKey}\n  report:     ${result.reportKey}\n`,
      );
    });
}
