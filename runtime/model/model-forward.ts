/**
 * The one forward pass a package gets, whatever its model type: preprocessed rows (row-major n x input_dim)
 * in, n x units outputs (probabilities, or the regression value) out. Dense packages (the net, linear
 * models) run the Dense kernel; gradient_boosting packages walk their trees.
 */
import { createDenseForward } from './dense-forward';
import { readDenseLayers, type ModelPackage } from './package';
import { createTreeForward } from './trees';

export interface ModelForward {
  (rows: Float32Array, n: number): Float32Array;
  /** Outputs per row. */
  readonly units: number;
}

export function createModelForward(pkg: ModelPackage): ModelForward {
  const inputDim = pkg.preprocessing.outputDim;
  if (pkg.trees) return Object.assign(createTreeForward(pkg.trees, inputDim), { units: pkg.trees.outputs });
  const layers = readDenseLayers(pkg);
  if (layers.length === 0) throw new Error('the model package has no Dense layers');
  if (layers[0].inputDim !== inputDim) {
    throw new Error(`the model takes ${layers[0].inputDim} inputs but preprocessing.json produces ${inputDim}: the package is inconsistent`);
  }
  return Object.assign(createDenseForward(layers), { units: layers[layers.length - 1].units });
}
