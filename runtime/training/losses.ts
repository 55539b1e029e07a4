/** The training losses the tree and linear models watch, over outputs after their link. */
import type { TaskKind } from '../model/package';

/** Mean loss of linked outputs: log loss, multiclass log loss or squared error / 2. */
export function outputLoss(task: TaskKind, p: Float32Array, labels: Float64Array, k: number): number {
  let sum = 0;
  for (let r = 0; r < labels.length; r++) {
    const y = labels[r];
    if (task === 'regression') sum += (p[r] - y) ** 2 / 2;
    else if (task === 'binary') sum -= Math.log(Math.max(y === 1 ? p[r] : 1 - p[r], 1e-15));
    else sum -= Math.log(Math.max(p[r * k + y], 1e-15));
  }
  return sum / labels.length;
}
