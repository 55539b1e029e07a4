import type { Command } from 'commander';
import * as fs from 'node:fs';
import type { InvokeCloud } from '../../serving/invoke';
import { UsageError } from '../errors';
import { DEFAULT_CONFIG_DIR, INVOKE_CLOUDS } from './defaults';

interface InvokeCommandOptions {
  env: string;
  cloud: string;
  file?: string;
  data?: string;
  url?: string;
  configDir: string;
}

/** Rows from --file (.json, .jsonl or .csv) or --data (inline JSON), keyed by feature name. */
export function readRowsArgument(opts: { file?: string; data?: string }, features: string[]): Record<string, unknown>[] {
  if ((opts.file === undefined) === (opts.data === undefined)) throw new UsageError('give exactly one of --file rows.json|rows.csv or --data \'<json>\'');
  const { parseCsvRows, parseJsonRows } = require('../../serving/input') as typeof import('../../serving/input');
  const { InputError } = require('../../serving/predictor') as typeof import('../../serving/predictor');
  try {
    if (opts.data !== undefined) return parseJsonRows(opts.data, features);
    const file = opts.file as string;
    if (!fs.existsSync(file)) throw new UsageError(`--file ${file}: no such file`);
    const text = fs.readFileSync(file, 'utf8');
    if (/\.csv$/i.test(file)) return parseCsvRows(text, features);
    if (/\.(jsonl|ndjson)$/i.test(file)) {
      return text
        .split(/\r?\n/)
        .filter((l) => l.trim() !== '')
        .flatMap((line) => parseJsonRows(line, features));
    }
    return parseJsonRows(text, features);
  } catch (err) {
    if (err instanceof InputError) throw new UsageError(`${opts.file ?? '--data'}: ${err.message}`);
    throw err;
  }
}

export function registerInvokeCommand(program: Command): void {
  program
    .command('invoke')
    .description('send rows to the deployed endpoint of an environment and print the predictions as JSON')
    .requiredOption('--env <env>', 'environment: dev, qa, staging or prod')
    .requiredOption('--cloud <cloud>', `where the endpoint runs: ${INVOKE_CLOUDS.join(', ')}`)
    .option('--file <path>', 'rows as .json (object, array or {"instances": [...]}), .jsonl or .csv')
    .option('--data <json>', 'rows as inline JSON')
    .option('--url <url>', 'local: server URL (default http://127.0.0.1:8080); gcp, azure: serving URL override (a base URL gets the predict route)')
    .option('--config-dir <dir>', 'configuration folder', DEFAULT_CONFIG_DIR)
    .action(async (opts: InvokeCommandOptions) => {
      const { loadProjectConfig } = require('../../../config/load') as typeof import('../../../config/load');
      const { parseEnvironmentName, parseStoreCloud } = require('../../context') as typeof import('../../context');
      const { InvokeError, invoke } = require('../../serving/invoke') as typeof import('../../serving/invoke');
      const cloud = parseStoreCloud(opts.cloud, '--cloud', INVOKE_CLOUDS) as InvokeCloud;
      const env = parseEnvironmentName(opts.env);
      const project = loadProjectConfig(opts.configDir);
      const rows = readRowsArgument(opts, project.pipeline.features);
      try {
        const result = await invoke({ cloud, env, project, rows, url: opts.url });
        process.stdout.write(JSON.stringify({ predictions: result.predictions, latency_ms: Math.round(result.latencyMs * 100) / 100 }, null, 2) + '\n');
      } catch (err) {
        if (err instanceof InvokeError) throw new UsageError(err.message, { cause: err });
        throw err;
      }
    });
}
