/**
 * model_type "logistic_regression" / "linear": one Dense layer (sigmoid, softmax or identity by task) over
 * the shared preprocessing's columns, fitted in plain TypeScript by Adam on seeded mini-batches with L2 on
 * the weights, keeping the weights of the epoch with the best validation loss. No tf is needed to fit it;
 * the package stores it as a one-layer Dense model, so serving runs it like the net.
 */
import type { LinearParams } from '../../config/schema';
import { seededRandom } from '../common/random';
import type { TaskKind } from '../model/package';
import { applyLink, type TreeLink } from '../model/trees';
import { shuffledIndices } from './data';
import { outputLoss } from './losses';

export interface RowMatrix {
  /** Row-major n x dim. */
  x: Float32Array;
  n: number;
  /** Class index for classification; the (standardised, for regression) target otherwise. */
  labels: Float64Array;
}

export interface LinearModel {
  /** Row-major dim x outputs, as a Dense kernel. */
  kernel: Float32Array;
  bias: Float32Array;
  link: TreeLink;
}

export interface LinearFit {
  model: LinearModel;
  history: { epoch: number; loss: number; val_loss: number }[];
  bestEpoch: number;
}

export function linearLink(task: TaskKind): TreeLink {
  return task === 'binary' ? 'sigmoid' : task === 'multiclass' ? 'softmax' : 'identity';
}

/** Outputs (after the link) of the model on rows. */
export function linearPredict(model: LinearModel, x: Float32Array, n: number, dim: number): Float32Array {
  const k = model.bias.length;
  const out = new Float32Array(n * k);
  for (let r = 0; r < n; r++) {
    for (let o = 0; o < k; o++) out[r * k + o] = model.bias[o];
    for (let i = 0; i < dim; i++) {
      const v = x[r * dim + i];
      if (v !== 0) for (let o = 0; o < k; o++) out[r * k + o] += v * model.kernel[i * k + o];
    }
  }
  applyLink(model.link, out, n, k);
  return out;
}

interface Adam {
  m: Float64Array;
  v: Float64Array;
  t: number;
}

function adamStep(w: Float32Array, g: Float64Array, state: Adam, rate: number): void {
  state.t++;
  const c1 = 1 - 0.9 ** state.t;
  const c2 = 1 - 0.999 ** state.t;
  for (let i = 0; i < w.length; i++) {
    state.m[i] = 0.9 * state.m[i] + 0.1 * g[i];
    state.v[i] = 0.999 * state.v[i] + 0.001 * g[i] * g[i];
    w[i] -= (rate * (state.m[i] / c1)) / (Math.sqrt(state.v[i] / c2) + 1e-8);
  }
}

/** One mini-batch's gradient of the mean loss plus L2 into gk (kernel) and gb (bias). */
function batchGradient(task: TaskKind, model: LinearModel, data: RowMatrix, dim: number, rows: Uint32Array, l2: number, gk: Float64Array, gb: Float64Array): void {
  const k = model.bias.length;
  gk.fill(0);
  gb.fill(0);
  const x = new Float32Array(rows.length * dim);
  rows.forEach((r, i) => x.set(data.x.subarray(r * dim, (r + 1) * dim), i * dim));
  const p = linearPredict(model, x, rows.length, dim);
  rows.forEach((r, i) => {
    for (let o = 0; o < k; o++) {
      const y = task === 'multiclass' ? (data.labels[r] === o ? 1 : 0) : data.labels[r];
      const e = (p[i * k + o] - y) / rows.length;
      gb[o] += e;
      for (let j = 0; j < dim; j++) gk[j * k + o] += e * x[i * dim + j];
    }
  });
  for (let j = 0; j < gk.length; j++) gk[j] += l2 * model.kernel[j];
}

export function fitLinear(task: TaskKind, outputs: number, dim: number, fit: RowMatrix, validation: RowMatrix, params: LinearParams, seed: number): LinearFit {
  const model: LinearModel = { kernel: new Float32Array(dim * outputs), bias: new Float32Array(outputs), link: linearLink(task) };
  const [ak, ab]: Adam[] = [dim * outputs, outputs].map((size) => ({ m: new Float64Array(size), v: new Float64Array(size), t: 0 }));
  const gk = new Float64Array(dim * outputs);
  const gb = new Float64Array(outputs);
  const random = seededRandom(seed);
  const history: LinearFit['history'] = [];
  let best = { epoch: 0, loss: Infinity, kernel: model.kernel.slice(), bias: model.bias.slice() };
  for (let epoch = 1; epoch <= params.epochs; epoch++) {
    const order = shuffledIndices(fit.n, random);
    for (let s = 0; s < fit.n; s += params.batch_size) {
      batchGradient(task, model, fit, dim, order.subarray(s, Math.min(s + params.batch_size, fit.n)), params.l2, gk, gb);
      adamStep(model.kernel, gk, ak, params.learning_rate);
      adamStep(model.bias, gb, ab, params.learning_rate);
    }
    const loss = outputLoss(task, linearPredict(model, fit.x, fit.n, dim), fit.labels, outputs);
    const valLoss = outputLoss(task, linearPredict(model, validation.x, validation.n, dim), validation.labels, outputs);
    history.push({ epoch, loss, val_loss: valLoss });
    if (valLoss < best.loss) best = { epoch, loss: valLoss, kernel: model.kernel.slice(), bias: model.bias.slice() };
    else if (epoch - best.epoch >= params.early_stopping_patience) break;
  }
  return { model: { kernel: best.kernel, bias: best.bias, link: model.link }, history, bestEpoch: best.epoch };
}
