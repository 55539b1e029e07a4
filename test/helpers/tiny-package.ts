/**
 * A valid model package written without tf: one numeric feature, one Dense sigmoid unit (a logistic
 * regression), its manifest written last by writePackageFiles. For tests that need a real, verifiable
 * package (registration, promotion) but not a trained one.
 */
import { writePackageFiles, type ModelJson, type ModelMetadata, type WrittenPackage } from '../../runtime/model/package';
import { fitPreprocessing } from '../../runtime/model/preprocessing';
import type { ObjectStore } from '../../runtime/storage/object-store';

export async function writeTinyPackage(store: ObjectStore, prefix: string, opts: { project?: string; runId?: string; weight?: number; reportHtml?: string } = {}): Promise<WrittenPackage> {
  const preprocessing = fitPreprocessing([{ x: 1 }, { x: 2 }, { x: 4 }], { features: ['x'] });
  const modelJson: ModelJson = {
    format: 'layers-model',
    generatedBy: 'test/helpers/tiny-package.ts',
    convertedBy: null,
    modelTopology: {
      class_name: 'Sequential',
      config: { name: 'tiny', layers: [{ class_name: 'Dense', config: { name: 'dense_1', units: 1, activation: 'sigmoid', use_bias: true, batch_input_shape: [null, 1] } }] },
    },
    weightsManifest: [{ paths: ['weights.bin'], weights: [{ name: 'dense_1/kernel', shape: [1, 1], dtype: 'float32' }, { name: 'dense_1/bias', shape: [1], dtype: 'float32' }] }],
  };
  const metadata: ModelMetadata = {
    format_version: 1,
    project: opts.project ?? 'mlstack',
    task: 'binary',
    features: ['x'],
    target: 'y',
    classes: ['no', 'yes'],
    positive_class: 'yes',
    threshold: 0.5,
    input_dim: preprocessing.outputDim,
    layers: [{ units: 1, activation: 'sigmoid' }],
    created_at: new Date(0).toISOString(),
    run_id: opts.runId ?? 'run-tiny',
    data_hash: 'd',
    config_hash: 'c',
    code_version: 'test',
    backend: 'none',
  };
  const weights = Float32Array.of(opts.weight ?? 1.5, -0.25).buffer;
  return writePackageFiles(store, prefix, { modelJson, weights, preprocessing, metadata, metrics: { auc: 0.5 }, reportHtml: opts.reportHtml });
}
