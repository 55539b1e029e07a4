/**
 * Hyperparameter tuning over pipeline.json `tuning.search_space`: random search or successive
 * halving. The study lives in the store at `<studyPrefix><studyId>/study.json` and is rewritten the
 * moment each trial ends (params, metric, model reference), so a killed study restarts where it
 * stopped: finished trials are skipped, an interrupted trial resumes from its checkpoints, and
 * `best` always names the best model package trained so far.
 */
import type { ProjectConfig, TrainingParams, TuningConfig } from '../../config/schema';
import { silentLogger, type Logger } from '../common/logger';
import { getJson, ObjectExistsError, putJson, type ObjectStore } from '../storage/object-store';
import { seededRandom, stableHash } from './data';
import { resolveTrainingParams, train, TrainingAbortedError, type TrainResult } from './index';
import type { TrackingTarget } from './track';
import { ConfigInvalidError, UsageError } from '../common/errors';

export interface TrialRecord {
  trial_id: string;
  run_id: string;
  rung: number;
  config_index: number;
  params: Partial<TrainingParams>;
  epochs: number;
  /** 'stopped': a SageMaker trial ended by StopTrainingJob (Hyperband early stopping); tune() writes only complete/failed. */
  status: 'complete' | 'failed' | 'stopped';
  /** The validation metric the study optimises (null when the trial failed). */
  metric: number | null;
  test_metrics: Record<string, number> | null;
  package_prefix: string | null;
  /** Where the trial's model package ended up when it is not under package_prefix in the study's store (SageMaker: model.tar.gz). */
  model_uri?: string;
  error?: string;
  started_at: string;
  finished_at: string;
}

export interface Study {
  study_id: string;
  project: string;
  strategy: TuningConfig['strategy'];
  metric: TuningConfig['metric'];
  direction: 'max' | 'min';
  /** Hash of the tuning config and base params: a restarted study must search the same space. */
  space_hash: string;
  status: 'running' | 'complete';
  created_at: string;
  updated_at: string;
  trials: TrialRecord[];
  /** package_prefix is the trial's model_uri for trials that ran on SageMaker (their package is a model.tar.gz). */
  best: { trial_id: string; run_id: string; metric: number; params: Partial<TrainingParams>; package_prefix: string } | null;
}

export interface TuneOptions {
  project: ProjectConfig;
  store: ObjectStore;
  dataKeys: string[];
  studyId: string;
  /** Study objects go under `<studyPrefix><studyId>/` (default 'state/studies/'). */
  studyPrefix?: string;
  modelsPrefix: string;
  checkpointsPrefix: string;
  dataStore?: ObjectStore;
  logger?: Logger;
  signal?: AbortSignal;
  /** Overrides pipeline.json `tuning` (e.g. fewer trials from the CLI). */
  tuning?: Partial<TuningConfig>;
  onTrialStart?: (trialId: string) => void;
  onTrialEnd?: (trial: TrialRecord) => void | Promise<void>;
  /** Track every trial as a run whose parent run is the study (source `tune`, tags study and trial). */
  tracking?: Omit<TrackingTarget, 'source'>;
}

const VALIDATION_KEY: Record<TuningConfig['metric'], string> = { auc: 'val_auc', accuracy: 'val_accuracy', loss: 'val_loss', rmse: 'val_rmse' };

export function directionOf(metric: TuningConfig['metric']): 'max' | 'min' {
  return metric === 'auc' || metric === 'accuracy' ? 'max' : 'min';
}

type SearchDimension = TuningConfig['search_space'][string];

function sampleDimension(dim: SearchDimension, random: () => number): unknown {
  if ('values' in dim) return dim.values[Math.floor(random() * dim.values.length)];
  const u = random();
  let value = dim.log ? Math.exp(Math.log(dim.min) + u * (Math.log(dim.max) - Math.log(dim.min))) : dim.min + u * (dim.max - dim.min);
  if (dim.integer) value = Math.round(value);
  return value;
}

/** The study's candidate configurations, deterministic in the seed (a restart samples the same ones). */
export function sampleConfigurations(tuning: TuningConfig, seed: number): Partial<TrainingParams>[] {
  const random = seededRandom(seed ^ 0x5eed);
  const names = Object.keys(tuning.search_space).sort();
  return Array.from({ length: tuning.trials }, () => Object.fromEntries(names.map((n) => [n, sampleDimension(tuning.search_space[n], random)])) as Partial<TrainingParams>);
}

/** Epochs per rung of successive halving: min_epochs * eta^r, capped at the configured epochs. */
export function rungEpochs(tuning: TuningConfig, maxEpochs: number): number[] {
  if (tuning.strategy === 'random') return [maxEpochs];
  const rungs: number[] = [];
  for (let e = Math.min(tuning.min_epochs, maxEpochs); ; e *= tuning.eta) {
    rungs.push(Math.min(e, maxEpochs));
    if (e >= maxEpochs) break;
  }
  return rungs;
}

function better(a: number, b: number, direction: 'max' | 'min'): boolean {
  return direction === 'max' ? a > b : a < b;
}

export function studyKey(prefix: string, studyId: string): string {
  return `${prefix}${studyId}/study.json`;
}

/** Where a trial run elsewhere (a SageMaker tuning trial) records its result: one object per trial, so concurrent trials never overwrite each other. */
export function trialKey(prefix: string, studyId: string, trialId: string): string {
  return `${prefix}${studyId}/trials/${trialId}.json`;
}

/** The study with every per-trial object under `<prefix><studyId>/trials/` merged in; null when neither exists. */
export async function readStudy(store: ObjectStore, studyId: string, prefix = 'state/studies/'): Promise<Study | null> {
  const key = studyKey(prefix, studyId);
  const study = (await store.exists(key)) ? await getJson<Study>(store, key) : null;
  const trialObjects = (await store.list(`${prefix}${studyId}/trials/`)).filter((o) => o.key.endsWith('.json'));
  if (trialObjects.length === 0) return study;
  const merged: Study = study ?? {
    study_id: studyId,
    project: '',
    strategy: 'random',
    metric: 'auc',
    direction: 'max',
    space_hash: '',
    status: 'running',
    created_at: new Date(0).toISOString(),
    updated_at: new Date(0).toISOString(),
    trials: [],
    best: null,
  };
  const known = new Set(merged.trials.map((t) => t.trial_id));
  for (const object of trialObjects) {
    const trial = await getJson<TrialRecord>(store, object.key);
    if (known.has(trial.trial_id)) continue;
    merged.trials.push(trial);
    if (trial.finished_at > merged.updated_at) merged.updated_at = trial.finished_at;
    const model = trial.package_prefix ?? trial.model_uri;
    if (trial.metric !== null && model && (merged.best === null || better(trial.metric, merged.best.metric, merged.direction))) {
      merged.best = { trial_id: trial.trial_id, run_id: trial.run_id, metric: trial.metric, params: trial.params, package_prefix: model };
    }
  }
  merged.trials.sort((a, b) => a.finished_at.localeCompare(b.finished_at));
  return merged;
}

/**
 * Records one trial that ran outside tune() (a SageMaker tuning trial) the moment it ends: the study
 * header is created once (conditional write; the first trial wins), the trial gets its own object.
 */
export async function recordExternalTrial(
  store: ObjectStore,
  prefix: string,
  header: Omit<Study, 'trials' | 'best' | 'updated_at' | 'space_hash'> & { space_hash?: string },
  trial: TrialRecord,
): Promise<string> {
  const now = new Date().toISOString();
  const study: Study = { space_hash: '', ...header, updated_at: now, trials: [], best: null };
  try {
    await putJson(store, studyKey(prefix, header.study_id), study, { ifNotExists: true });
  } catch (err) {
    if (!(err instanceof ObjectExistsError)) throw err;
  }
  const key = trialKey(prefix, header.study_id, trial.trial_id);
  await putJson(store, key, trial);
  return store.uri(key);
}

/** What a study searches: the merged tuning config, its candidate configurations and rungs, and the hash a restart must match. */
export interface StudyPlan {
  tuning: TuningConfig;
  direction: 'max' | 'min';
  configs: Partial<TrainingParams>[];
  /** Epochs per rung (one rung for random search). */
  rungs: number[];
  spaceHash: string;
}

/** Plans a study from pipeline.json `tuning` and overrides (pure): every sampled configuration is checked before any trial runs. */
export function planStudy(pipeline: ProjectConfig['pipeline'], overrides: Partial<TuningConfig> | undefined): StudyPlan {
  if (!pipeline.tuning && !overrides?.search_space) throw new ConfigInvalidError('pipeline.json has no "tuning" section: add tuning.search_space (see docs/training.md)');
  const tuning = { strategy: 'random', trials: 8, metric: 'auc', eta: 3, min_epochs: 2, ...pipeline.tuning, ...overrides } as TuningConfig;
  if (Object.keys(tuning.search_space ?? {}).length === 0) throw new ConfigInvalidError('tuning.search_space is empty: give at least one parameter range');
  const baseParams = pipeline.training_params;
  const configs = sampleConfigurations(tuning, pipeline.seed);
  configs.forEach((c, i) => {
    try {
      resolveTrainingParams(baseParams, c, pipeline.model_type);
    } catch (err) {
      throw new ConfigInvalidError(`tuning.search_space sample ${i + 1} is not valid: ${(err as Error).message}`);
    }
  });
  return {
    tuning,
    direction: directionOf(tuning.metric),
    configs,
    rungs: rungEpochs(tuning, baseParams.epochs),
    spaceHash: stableHash({ tuning, baseParams, seed: pipeline.seed }),
  };
}

/** Successive halving: the best 1/eta of a rung's candidates (at least one) that produced a metric go on to the next rung. */
export function survivors(results: { index: number; metric: number | null }[], candidates: number, eta: number, direction: 'max' | 'min'): number[] {
  const keep = Math.max(1, Math.ceil(candidates / eta));
  return results
    .filter((r): r is { index: number; metric: number } => r.metric !== null)
    .sort((a, b) => (direction === 'max' ? b.metric - a.metric : a.metric - b.metric))
    .slice(0, keep)
    .map((r) => r.index);
}

/** Records a finished trial in the study and moves `best` when it beats it (a trial without a package never does). */
export function addTrial(study: Study, record: TrialRecord, direction: 'max' | 'min'): void {
  study.trials.push(record);
  if (record.metric !== null && record.package_prefix && (study.best === null || better(record.metric, study.best.metric, direction))) {
    study.best = { trial_id: record.trial_id, run_id: record.run_id, metric: record.metric, params: record.params, package_prefix: record.package_prefix };
  }
}

interface Trial {
  trialId: string;
  rung: number;
  index: number;
  params: Partial<TrainingParams>;
  epochs: number;
}

/**
 * Trains one trial. A trial that fails is recorded as failed; `fatal` is set when the failure would
 * repeat in every trial (the tuning metric does not exist for this task) and the study must stop.
 */
async function runTrial(opts: TuneOptions, plan: StudyPlan, trial: Trial, logger: Logger): Promise<{ record: TrialRecord; fatal?: Error }> {
  const { trialId, rung, index, params, epochs } = trial;
  const runId = `${opts.studyId}-${trialId}`;
  const started = new Date().toISOString();
  const base = { trial_id: trialId, run_id: runId, rung, config_index: index, params, epochs };
  try {
    const result: TrainResult = await train({
      project: opts.project,
      store: opts.store,
      dataStore: opts.dataStore,
      dataKeys: opts.dataKeys,
      runId,
      modelsPrefix: opts.modelsPrefix,
      checkpointsPrefix: opts.checkpointsPrefix,
      overrides: params,
      progress: 'none',
      logger,
      signal: opts.signal,
      parentRun: opts.studyId,
      ...(opts.tracking ? { tracking: { ...opts.tracking, source: 'tune' as const, tags: { ...opts.tracking.tags, study: opts.studyId, trial: trialId } } } : {}),
    });
    const metric = result.validation[VALIDATION_KEY[plan.tuning.metric]];
    if (metric === undefined) throw new ConfigInvalidError(`tuning metric "${plan.tuning.metric}" is not available for a ${result.task} task (use ${result.task === 'regression' ? 'rmse or loss' : 'auc, accuracy or loss'})`);
    return { record: { ...base, status: 'complete', metric, test_metrics: result.metrics, package_prefix: result.packagePrefix, started_at: started, finished_at: new Date().toISOString() } };
  } catch (err) {
    if (err instanceof TrainingAbortedError) throw err;
    const message = (err as Error).message;
    logger.warn({ trial: trialId, err: message }, `trial ${trialId} failed`);
    const record: TrialRecord = { ...base, status: 'failed', metric: null, test_metrics: null, package_prefix: null, error: message, started_at: started, finished_at: new Date().toISOString() };
    return /tuning metric/.test(message) ? { record, fatal: err as Error } : { record };
  }
}

/** The stored study to resume, or a new one; refuses one started over another search space. */
async function openStudy(opts: TuneOptions, plan: StudyPlan, studyPrefix: string): Promise<Study> {
  const now = new Date().toISOString();
  const study: Study = (await readStudy(opts.store, opts.studyId, studyPrefix)) ?? {
    study_id: opts.studyId,
    project: opts.project.pipeline.project,
    strategy: plan.tuning.strategy,
    metric: plan.tuning.metric,
    direction: plan.direction,
    space_hash: plan.spaceHash,
    status: 'running',
    created_at: now,
    updated_at: now,
    trials: [],
    best: null,
  };
  if (study.space_hash !== plan.spaceHash) {
    throw new UsageError(`study "${opts.studyId}" at ${opts.store.uri(studyKey(studyPrefix, opts.studyId))} was started with a different search space or training params; use a new --study id`);
  }
  return study;
}

/**
 * Runs the study: each rung trains its candidates (skipping trials a previous run finished), the
 * study object is rewritten after every trial, and successive halving picks the next rung's candidates.
 */
export async function tune(opts: TuneOptions): Promise<Study> {
  const logger = opts.logger ?? silentLogger;
  const plan = planStudy(opts.project.pipeline, opts.tuning);
  const studyPrefix = opts.studyPrefix ?? 'state/studies/';
  const study = await openStudy(opts, plan, studyPrefix);
  const finished = new Map(study.trials.map((t) => [t.trial_id, t]));
  if (finished.size) logger.info({ study: opts.studyId, finished: finished.size }, `resuming study: ${finished.size} trials already finished`);
  const save = async () => {
    study.updated_at = new Date().toISOString();
    await putJson(opts.store, studyKey(studyPrefix, opts.studyId), study);
  };

  let candidates = plan.configs.map((_, i) => i);
  for (let rung = 0; rung < plan.rungs.length; rung++) {
    const epochs = plan.rungs[rung];
    const results: { index: number; metric: number | null }[] = [];
    for (const index of candidates) {
      const trialId = `r${rung}-c${index}`;
      const done = finished.get(trialId);
      if (done) {
        results.push({ index, metric: done.metric });
        continue;
      }
      if (opts.signal?.aborted) throw new TrainingAbortedError(0);
      opts.onTrialStart?.(trialId);
      const { record, fatal } = await runTrial(opts, plan, { trialId, rung, index, params: { ...plan.configs[index], epochs }, epochs }, logger);
      addTrial(study, record, plan.direction);
      await save();
      if (fatal) throw fatal;
      logger.info({ trial: trialId, metric: record.metric, best: study.best?.metric }, `trial ${trialId} finished`);
      await opts.onTrialEnd?.(record);
      results.push({ index, metric: record.metric });
    }
    candidates = survivors(results, candidates.length, plan.tuning.eta, plan.direction);
    if (candidates.length === 0) break;
  }
  study.status = 'complete';
  await save();
  return study;
}
