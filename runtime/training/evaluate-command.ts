/**
 * `<training image> evaluate --model <dir> --data <dir> --output <dir>`: the evaluation step of the AWS
 * training state machine (a SageMaker processing job). The model folder holds model.tar.gz (or an
 * unpacked package); the data folder holds processed CSV files (any depth). Writes
 * `<output>/evaluation.json` (SageMaker model-quality statistics, registered with the model package)
 * and `<output>/report.html`.
 *
 * When the data is the data the model was trained on (same content hash), only the held-out test
 * split is scored (the split is reproduced from pipeline.json's train_split and seed); otherwise every
 * labelled row is.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_CONFIG_DIR, loadProjectConfig } from '../../config/load';
import type { ProjectConfig } from '../../config/schema';
import { createLogger } from '../common/logger';
import { ENV } from '../contract/env';
import { EVALUATION_FILE, MODEL_ARCHIVE } from '../contract/layout';
import { readModelPackage, type ModelPackage } from '../model/package';
import { LocalObjectStore } from '../storage/local-store';
import { loadCsvRows, resolveCsvKeys, type Row } from './data';
import { labelRows, makeSplits } from './dataset';
import { evaluatePackage, type EvaluationResult } from './evaluate';
import { packageDirOf } from './model-dir';
import { MlstackError, reportError } from '../common/errors';

export class EvaluateUsageError extends MlstackError {
  constructor(message: string) {
    super('USAGE', message);
    this.name = 'EvaluateUsageError';
  }
}

export interface EvaluateCommandOptions {
  modelDir: string;
  dataDir: string;
  outputDir: string;
  /** pipeline.json's train_split and seed, to score only the test split of the training data. */
  project?: ProjectConfig;
}

export interface EvaluationDocument {
  [statistics: string]: unknown;
  mlstack: { rows: number; split: 'test' | 'all'; metrics: Record<string, number>; run_id: string; data_hash: string; confusion?: EvaluationResult['confusion'] };
}

/** Reads the package from a folder holding the model archive (unpacked into a temp folder) or the package itself. */
export async function loadPackageFromModelDir(modelDir: string): Promise<ModelPackage> {
  return readModelPackage(new LocalObjectStore(await packageDirOf(modelDir)), '');
}

/** The rows to score: the reproduced test split when the data is the training data, else all of it. */
export function rowsToScore(pkg: ModelPackage, rows: Row[], dataHash: string, project?: ProjectConfig): { rows: Row[]; split: 'test' | 'all' } {
  if (!project || dataHash !== pkg.metadata.data_hash) return { rows, split: 'all' };
  const pipeline = project.pipeline;
  const labelled = labelRows(rows, pipeline);
  const { test } = makeSplits(labelled, pipeline.train_split, pipeline.training_params.validation_split, pipeline.seed);
  return { rows: test.map((i) => labelled.rows[i]), split: 'test' };
}

/** SageMaker model-quality statistics (the JSON the model registry shows), plus mlstack's own figures. */
export function modelQualityStatistics(pkg: ModelPackage, result: EvaluationResult, split: 'test' | 'all'): EvaluationDocument {
  const stat = (value: number | undefined) => (value === undefined || !Number.isFinite(value) ? undefined : { value, standard_deviation: 'NaN' });
  const pick = (names: Record<string, string>) =>
    Object.fromEntries(Object.entries(names).flatMap(([out, key]) => (stat(result.metrics[key]) ? [[out, stat(result.metrics[key])]] : [])));
  const task = pkg.metadata.task;
  const section =
    task === 'regression'
      ? { regression_metrics: pick({ rmse: 'rmse', mae: 'mae', r2: 'r2' }) }
      : task === 'binary'
        ? { binary_classification_metrics: pick({ auc: 'auc', accuracy: 'accuracy', precision: 'precision', recall: 'recall', f1: 'f1' }) }
        : { multiclass_classification_metrics: pick({ accuracy: 'accuracy', macro_precision: 'precision', macro_recall: 'recall', macro_f1: 'f1' }) };
  return {
    ...section,
    mlstack: { rows: result.rows, split, metrics: result.metrics, run_id: pkg.metadata.run_id, data_hash: pkg.metadata.data_hash, ...(result.confusion ? { confusion: result.confusion } : {}) },
  };
}

export async function evaluateModelDir(opts: EvaluateCommandOptions): Promise<EvaluationDocument> {
  const pkg = await loadPackageFromModelDir(opts.modelDir);
  if (!fs.existsSync(opts.dataDir)) throw new EvaluateUsageError(`--data ${opts.dataDir} does not exist: pass the folder of processed CSV files`);
  const dataStore = new LocalObjectStore(path.resolve(opts.dataDir));
  const loaded = await loadCsvRows(dataStore, await resolveCsvKeys(dataStore, ''));
  const { rows, split } = rowsToScore(pkg, loaded.rows, loaded.dataHash, opts.project);
  // Scoring only the test split of the training data is not an overlap; all rows of it would be.
  const result = evaluatePackage(pkg, rows, `${opts.dataDir} (${split === 'test' ? 'test split' : 'all rows'})`, split === 'test' ? {} : { dataHash: loaded.dataHash });
  const doc = modelQualityStatistics(pkg, result, split);
  fs.mkdirSync(opts.outputDir, { recursive: true });
  fs.writeFileSync(path.join(opts.outputDir, EVALUATION_FILE), `${JSON.stringify(doc, null, 2)}\n`);
  fs.writeFileSync(path.join(opts.outputDir, 'report.html'), result.reportHtml);
  return doc;
}

function flagValues(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new EvaluateUsageError(`unexpected argument "${arg}"`);
    const eq = arg.indexOf('=');
    if (eq > 0) out[arg.slice(2, eq)] = arg.slice(eq + 1);
    else if (i + 1 < argv.length) out[arg.slice(2)] = argv[++i];
    else throw new EvaluateUsageError(`${arg} needs a value`);
  }
  return out;
}

/** `evaluate --model <dir> --data <dir> --output <dir>`; resolves to the exit code (2 for usage errors). */
export async function runEvaluateCommand(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const logger = createLogger('evaluate', 'container', env);
  try {
    const flags = flagValues(argv);
    const unknown = Object.keys(flags).filter((k) => !['model', 'data', 'output'].includes(k));
    if (unknown.length) throw new EvaluateUsageError(`unknown option --${unknown[0]}: evaluate takes --model <dir> --data <dir> --output <dir>`);
    const missing = ['model', 'data', 'output'].filter((k) => !flags[k]);
    if (missing.length) throw new EvaluateUsageError(`evaluate needs ${missing.map((m) => `--${m}`).join(', ')}: evaluate --model <dir with ${MODEL_ARCHIVE}> --data <processed csv dir> --output <dir>`);
    const configDir = path.resolve(env[ENV.configDir] ?? DEFAULT_CONFIG_DIR);
    let project: ProjectConfig | undefined;
    try {
      project = loadProjectConfig(configDir);
    } catch (err) {
      logger.warn({ err: (err as Error).message }, `no project config at ${configDir}: scoring every row, not the test split`);
    }
    const doc = await evaluateModelDir({ modelDir: flags.model, dataDir: flags.data, outputDir: flags.output, project });
    logger.info({ output: path.join(flags.output, EVALUATION_FILE), rows: doc.mlstack.rows, split: doc.mlstack.split, metrics: doc.mlstack.metrics }, 'evaluation written');
    process.stdout.write(`mlstack-evaluation ${JSON.stringify(doc.mlstack)}\n`);
    return 0;
  } catch (err) {
    logger.error({ err }, `evaluation failed: ${(err as Error).message}`);
    return reportError('evaluate', err);
  }
}
