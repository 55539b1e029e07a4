import type { IngestionConfig } from '../../config/schema';
import type { Logger } from '../common/logger';
import { openObjectUri } from '../storage/open';
import { DatabaseSource, databaseKindOf } from './db-source';
import { FileSource } from './file-source';
import { RestSource } from './rest-source';
import type { IngestionSource } from './types';

export interface OpenSourceOptions {
  source: string;
  config: IngestionConfig;
  /** Source-side watermark column (databases filter on it in SQL). */
  watermarkColumn?: string;
  logger?: Logger;
  /** Where an API token named by ingestion.auth.token_env is read (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** Opens the source a `--source` string names: http(s) API, postgres:// or mysql:// query, or a .csv/.jsonl file or object URI. */
export async function openSource(options: OpenSourceOptions): Promise<IngestionSource> {
  const { source, config } = options;
  if (/^https?:\/\//i.test(source)) return new RestSource({ url: source, config, logger: options.logger, env: options.env });
  if (databaseKindOf(source)) return new DatabaseSource({ url: source, config, watermarkColumn: options.watermarkColumn });
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(source) && !/^(file|s3|gs|az):\/\//i.test(source)) {
    throw new Error(`unsupported source "${source}": use an http(s) API URL, postgres:// or mysql:// URL, or a .csv/.jsonl path or file://, s3://, gs://, az:// URI`);
  }
  const { store, key } = await openObjectUri(source);
  return new FileSource({
    store,
    key,
    pageRows: config.pagination.page_size,
    delimiter: config.csv_delimiter,
    declaredFields: config.source_fields,
  });
}
