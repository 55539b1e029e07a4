/** Rows -> task, labels and the train / validation / test splits. */
import type { PipelineConfig } from '../../config/schema';
import type { TaskKind } from '../model/package';
import { isMissing } from '../model/preprocessing';
import { splitIndices, type Row } from './data';
import { ConfigInvalidError, InvalidInputError } from '../common/errors';

export interface LabelledData {
  task: TaskKind;
  /** Class labels in output order (binary: [negative, positive]); [] for regression. */
  classes: string[];
  positiveClass: string | null;
  rows: Row[];
  /** Class index (classification) or the numeric target (regression), per row. */
  y: Float64Array;
  droppedMissingTarget: number;
}

const MAX_CLASSES = 50;

export function inferTask(values: string[]): TaskKind {
  const distinct = new Set(values);
  const numeric = values.every((v) => Number.isFinite(Number(v)));
  if (distinct.size <= 2) return 'binary';
  if (numeric && distinct.size > 10) return 'regression';
  return 'multiclass';
}

/** Maps the target column to labels; rows without a target are dropped (and counted). */
export function labelRows(rows: Row[], pipeline: Pick<PipelineConfig, 'target' | 'task' | 'positive_class'>): LabelledData {
  const target = pipeline.target;
  if (rows.length && !(target in rows[0])) {
    throw new ConfigInvalidError(`the target column "${target}" is not in the training data (columns: ${Object.keys(rows[0]).join(', ')}); check pipeline.json "target"`);
  }
  const kept = rows.filter((r) => !isMissing(r[target]));
  const values = kept.map((r) => String(r[target]).trim());
  if (kept.length === 0) throw new InvalidInputError(`every row has an empty target "${target}"`);
  const task = pipeline.task ?? inferTask(values);
  const y = new Float64Array(kept.length);
  if (task === 'regression') {
    values.forEach((v, i) => {
      const n = Number(v);
      if (!Number.isFinite(n)) throw new InvalidInputError(`target "${target}" must be numeric for regression, found ${JSON.stringify(v)} in data row ${i + 1}`);
      y[i] = n;
    });
    return { task, classes: [], positiveClass: null, rows: kept, y, droppedMissingTarget: rows.length - kept.length };
  }
  const distinct = [...new Set(values)].sort();
  let classes: string[];
  let positiveClass: string | null = null;
  if (task === 'binary') {
    positiveClass = pipeline.positive_class === undefined ? distinct[distinct.length - 1] : String(pipeline.positive_class).trim();
    if (!distinct.includes(positiveClass)) {
      throw new ConfigInvalidError(`positive_class ${JSON.stringify(positiveClass)} does not occur in target "${target}" (found: ${distinct.slice(0, 10).map((d) => JSON.stringify(d)).join(', ')})`);
    }
    if (distinct.length !== 2) {
      throw new InvalidInputError(`task "binary" needs exactly 2 target values in "${target}", found ${distinct.length}: ${distinct.slice(0, 10).map((d) => JSON.stringify(d)).join(', ')}`);
    }
    classes = [distinct.find((d) => d !== positiveClass) as string, positiveClass];
  } else {
    if (distinct.length > MAX_CLASSES) throw new InvalidInputError(`target "${target}" has ${distinct.length} classes; at most ${MAX_CLASSES} are supported (is it a regression target?)`);
    classes = distinct;
  }
  const index = new Map(classes.map((c, i) => [c, i]));
  values.forEach((v, i) => (y[i] = index.get(v) as number));
  return { task, classes, positiveClass, rows: kept, y, droppedMissingTarget: rows.length - kept.length };
}

export interface Splits {
  /** Rows the network trains on. */
  fit: number[];
  /** Held out of the train split for early stopping. */
  validation: number[];
  /** The train split (fit + validation): preprocessing is fitted on these. */
  train: number[];
  test: number[];
}

/** train_split of the rows for training (stratified for classification), validation_split of that for early stopping. */
export function makeSplits(data: LabelledData, trainSplit: number, validationSplit: number, seed: number): Splits {
  const strata = data.task === 'regression' ? undefined : data.y;
  const { first: train, second: test } = splitIndices(data.y.length, trainSplit, seed, strata);
  const trainStrata = strata ? train.map((i) => strata[i]) : undefined;
  const inner = splitIndices(train.length, 1 - validationSplit, seed + 1, trainStrata);
  return { train, test, fit: inner.first.map((i) => train[i]), validation: inner.second.map((i) => train[i]) };
}
