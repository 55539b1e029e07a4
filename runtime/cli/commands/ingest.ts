import type { Command } from 'commander';
import type { IngestRequest } from '../../ingestion/entrypoint';
import type { IngestionResult } from '../../ingestion';
import { DEFAULT_WORKDIR } from '../../contract/layout';
import { DEFAULT_CONFIG_DIR } from './defaults';
import { PROJECT_OPTION } from './options';

type IngestOptions = Pick<IngestRequest, 'env' | 'cloud' | 'source' | 'configDir' | 'workdir' | 'runId' | 'project'> & { json?: boolean };

export function registerIngestCommand(program: Command): void {
  program
    .command('ingest')
    .description('fetch a source into raw JSONL, then processed CSV + quarantine + quality report (see docs/ingestion.md)')
    .requiredOption('--env <env>', 'environment: dev, qa, staging or prod')
    .requiredOption('--cloud <cloud>', 'store to write to: local, aws, gcp or azure')
    .option('--source <source>', 'http(s) API URL, .csv/.jsonl path or s3:// gs:// az:// URI, postgres:// or mysql:// URL; default: the built-in sample API')
    .option('--config-dir <dir>', 'configuration folder', DEFAULT_CONFIG_DIR)
    .option('--workdir <dir>', 'store root when --cloud local', DEFAULT_WORKDIR)
    .option(...PROJECT_OPTION)
    .option('--run-id <id>', 'repeat (idempotent) or resume a run')
    .option('--json', 'print the result as JSON')
    .action(async (opts: IngestOptions) => {
      const { createLogger } = require('../../common/logger') as typeof import('../../common/logger');
      const { ingest } = require('../../ingestion/entrypoint') as typeof import('../../ingestion/entrypoint');
      const { createIngestionProgress } = require('../../ingestion/progress') as typeof import('../../ingestion/progress');
      // A bar on a terminal's stderr; nothing in a pipe or with --json.
      const progress = createIngestionProgress(opts.json ? 'none' : 'auto');
      // Warnings (a schema change, kept duplicates) as plain lines on stderr, --json or not.
      const onWarning = (message: string) => process.stderr.write(`mlstack: warning: ${message}\n`);
      const result = await ingest({ ...opts, logger: createLogger('ingest'), progress, onWarning });
      if (opts.json) {
        process.stdout.write(JSON.stringify(result, null, 2) + '\n');
        return;
      }
      const { fetched, processed, quarantined } = result.rows;
      process.stdout.write(
        `ingested run ${result.runId}: ${fetched} fetched, ${processed} processed, ${quarantined} quarantined (watermark ${String(result.watermark ?? 'none')})\n` +
          `  processed:  ${result.processedKey}\n  quarantine: ${result.quarantineKey}\n  report:     ${result.reportKey}\n` +
          summaryLines(result),
      );
    });
}

/** The summary's duplicate and schema lines (results written before these existed have neither). */
export function summaryLines(result: IngestionResult): string {
  let out = '';
  const d = result.duplicates;
  if (d !== undefined) {
    out +=
      d.unique_key !== null
        ? `  duplicates: ${d.dropped} dropped (unique_key ${d.unique_key.join(', ')}, keep ${d.keep})\n`
        : `  duplicates: ${d.found} whole-row duplicates kept${d.exact ? '' : ' (at least: too many distinct rows to check them all)'} (no unique_key)\n`;
  }
  const s = result.schema;
  if (s !== undefined) {
    const changes = [
      s.missing.length > 0 ? `missing ${s.missing.join(', ')}` : '',
      s.new.length > 0 ? `new ${s.new.join(', ')}` : '',
      s.type_changed.length > 0 ? `type changed ${s.type_changed.map((c) => `${c.field} (${c.was} -> ${c.now})`).join(', ')}` : '',
    ].filter((c) => c !== '');
    const against = s.compared_with === 'source_fields' ? 'ingestion.source_fields' : s.compared_with === 'previous_run' ? 'the previous run' : 'nothing (first run)';
    out += `  schema:     ${changes.length > 0 ? changes.join('; ') : 'unchanged'} (against ${against})\n`;
  }
  return out;
}
