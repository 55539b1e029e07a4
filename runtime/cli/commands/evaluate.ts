import * as fs from 'node:fs';
import type { Command } from 'commander';
import { DEFAULT_WORKDIR } from '../../contract/layout';
import { UsageError } from '../errors';
import { DEFAULT_CONFIG_DIR } from './defaults';
import { commandContext, PROJECT_OPTION } from './options';

interface EvaluateCommandOptions {
  model: string;
  data: string;
  env?: string;
  cloud: string;
  configDir: string;
  workdir: string;
  report?: string;
  json?: boolean;
  compare?: string;
  project?: string;
}

export function registerEvaluateCommand(program: Command): void {
  program
    .command('evaluate')
    .description('evaluate a model package on labelled CSV: metrics, confusion matrix and an HTML report')
    .requiredOption('--model <version|run-id|dir>', 'registry version (v3, needs --env), run id, or package folder / URI')
    .requiredOption('--data <uri>', 'labelled CSV file, folder or object URI')
    .option('--env <env>', 'environment whose registry and store resolve versions and run ids')
    .option('--cloud <cloud>', 'store of that environment: local, aws, gcp or azure', 'local')
    .option('--config-dir <dir>', 'configuration folder', DEFAULT_CONFIG_DIR)
    .option('--workdir <dir>', 'store root when --cloud local', DEFAULT_WORKDIR)
    .option(...PROJECT_OPTION)
    .option('--report <file>', 'write the HTML report to this file')
    .option('--compare <version>', "another registry version scored on the same rows, side by side (default: the version pinned in --env's config, if any)")
    .option('--json', 'print the metrics as JSON')
    .action(async (opts: EvaluateCommandOptions) => {
      const { readModelPackage } = require('../../model/package') as typeof import('../../model/package');
      const { loadCsvRows } = require('../../training/data') as typeof import('../../training/data');
      const { evaluatePackage } = require('../../training/evaluate') as typeof import('../../training/evaluate');
      const { resolveData, resolvePackage } = require('../../training/locate') as typeof import('../../training/locate');
      const ctx = opts.env ? await commandContext({ ...opts, env: opts.env }) : null;
      if (!ctx && opts.project !== undefined) throw new UsageError('--project names whose versions and runs to look up: pass --env (and --cloud) to say in which store');
      if (!ctx && /^v\d+$/.test(opts.model)) throw new UsageError(`--model ${opts.model} is a registry version: pass --env (and --cloud) to say which registry`);
      const { comparisonVersion, evaluateVersion } = require('../../training/evaluate-compare') as typeof import('../../training/evaluate-compare');
      const compareWith = comparisonVersion(ctx, opts.model, opts.compare);
      const where = await resolvePackage(ctx, opts.model);
      const pkg = await readModelPackage(where.store, where.prefix, { registered: where.registered });
      const data = ctx ? await resolveData(ctx, opts.data) : await resolveData({ store: where.store } as never, opts.data);
      const { rows, dataHash } = await loadCsvRows(data.store, data.keys);
      const compared = compareWith && ctx ? await evaluateVersion(ctx, compareWith, rows, opts.data) : null;
      const result = evaluatePackage(pkg, rows, opts.data, { model: where.version ?? opts.model, dataHash, ...(compared ? { compare: { label: compared.version, metrics: compared.metrics } } : {}) });
      if (opts.report) fs.writeFileSync(opts.report, result.reportHtml);
      if (opts.json) {
        // Importance is the package's own, measured on its training run's test split.
        const importance = pkg.metrics?.feature_importance ?? null;
        const doc = { model: where.version ?? opts.model, model_type: pkg.metadata.model_type ?? 'neural_network', rows: result.rows, metrics: result.metrics, confusion: result.confusion ?? null, feature_importance: importance, compare: compared };
        process.stdout.write(JSON.stringify(doc, null, 2) + '\n');
        return;
      }
      const lines = Object.entries(result.metrics).map(([k, v]) => `  ${k.padEnd(12)} ${v}`);
      process.stdout.write(`evaluated ${where.version ?? opts.model} on ${result.rows} rows of ${opts.data}\n${lines.join('\n')}\n${opts.report ? `  report: ${opts.report}\n` : ''}`);
    });
}
