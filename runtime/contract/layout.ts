/**
 * The storage layout every stage and every stack agrees on: where each kind of data lives inside an
 * environment's bucket (or the local workdir), and the artifacts one stage hands to the next.
 *
 *   <raw><project>/<run>/part-NNNNN.jsonl                 ingestion: records as fetched
 *   <processed><project>/<run>/data.csv + _SUCCESS.json   ingestion: validated rows; the marker is written last
 *   <models><project>/runs/<run>/                         training: the model package of one run
 *   <models><project>/<version>/                          registration: the version's package, unpacked
 *   <models><project>/<version>/model.tar.gz              registration: the same package as SageMaker loads it
 *   <models><project>/<version>/evaluation.json           registration on AWS: the evaluation step's statistics
 *   <checkpoints><project>/<run>/                         training checkpoints (resume after preemption)
 *   registry/<project>/claims/<version>                   registration: the version number, taken first
 *   registry/<project>/versions/<version>.json            the registry record of a version, written last
 *   tracking/<project>/runs/<run>.json                    tracking: one training run's parameters, metrics and lineage
 *   state/<project>/                                      ingestion watermarks, tuning studies
 *   data-capture/<endpoint>/                              requests and responses captured at the endpoint
 */
import type { CloudName, EnvironmentConfig } from '../../config/schema';

/** The local object store root when `--cloud local` (a folder playing the bucket). */
export const DEFAULT_WORKDIR = '.mlstack';

/** Written last into a processed run folder: its presence means the run is complete (training starts on it). */
export const SUCCESS_MARKER = '_SUCCESS.json';

/** The archive of a model package, the form SageMaker unpacks into /opt/ml/model. */
export const MODEL_ARCHIVE = 'model.tar.gz';

/** The evaluation step's model-quality statistics: written by `evaluate`, kept in the version folder by `register`. */
export const EVALUATION_FILE = 'evaluation.json';

/** Prefixes whose place is fixed (not configurable per environment). */
export const FIXED_PREFIXES = {
  registry: 'registry/',
  tracking: 'tracking/',
  state: 'state/',
  dataCapture: 'data-capture/',
} as const;

/** Defaults of the configurable prefixes (config `<cloud>.storage.*_path`). */
export const DEFAULT_PREFIXES = {
  raw: 'data/raw/',
  processed: 'data/processed/',
  models: 'models/',
  checkpoints: 'checkpoints/',
} as const;

/** Where each kind of data lives inside a store. */
export interface StoragePaths {
  raw: string;
  processed: string;
  models: string;
  checkpoints: string;
  /** Model registry records. */
  registry: string;
  /** Tracked runs (experiment = project), beside the registry. */
  tracking: string;
  /** Ingestion state (watermarks) and tuning studies. */
  state: string;
  /** Captured endpoint traffic. */
  dataCapture: string;
}

/** The store clouds: `local` is a folder (the workdir). */
export type StoreCloud = CloudName | 'local';

interface StorageConfig {
  raw_path: string;
  processed_path: string;
  models_path: string;
  checkpoints_path: string;
}

export function layoutOf(storage: StorageConfig | undefined): StoragePaths {
  return {
    raw: storage?.raw_path ?? DEFAULT_PREFIXES.raw,
    processed: storage?.processed_path ?? DEFAULT_PREFIXES.processed,
    models: storage?.models_path ?? DEFAULT_PREFIXES.models,
    checkpoints: storage?.checkpoints_path ?? DEFAULT_PREFIXES.checkpoints,
    ...FIXED_PREFIXES,
  };
}

/**
 * One project's part of a layout: raw, processed, models, checkpoints and state get a `<project>/` level, so two
 * projects can share a workdir or a bucket without seeing each other's runs, packages, checkpoints, watermarks or
 * studies. The registry keeps its own `<project>/` level (registry/<project>/...) and data capture is per endpoint.
 */
export function projectLayout(layout: StoragePaths, project: string): StoragePaths {
  return {
    ...layout,
    raw: `${layout.raw}${project}/`,
    processed: `${layout.processed}${project}/`,
    models: `${layout.models}${project}/`,
    checkpoints: `${layout.checkpoints}${project}/`,
    state: `${layout.state}${project}/`,
  };
}

/**
 * The prefixes one project uses in an environment on a cloud. `local` mirrors the first configured cloud's
 * layout (AWS, then GCP, then Azure), so a local run writes where that cloud's jobs would.
 */
export function storagePaths(env: EnvironmentConfig, cloud: StoreCloud, project: string): StoragePaths {
  const storage = cloud === 'local' ? (env.aws ?? env.gcp ?? env.azure)?.storage : env[cloud]?.storage;
  return projectLayout(layoutOf(storage), project);
}

/** `<processed><project>/<run>/`: one ingestion run's processed output. */
export function processedRunPrefix(paths: Pick<StoragePaths, 'processed'>, runId: string): string {
  return `${paths.processed}${runId}/`;
}

/** `<models><project>/runs/`: the folder of the training runs' packages (a SageMaker job's output path). */
export function runsPrefix(paths: Pick<StoragePaths, 'models'>): string {
  return `${paths.models}runs/`;
}

/** `<models><project>/runs/<run>/`: the package one training run writes. */
export function runPackagePrefix(paths: Pick<StoragePaths, 'models'>, runId: string): string {
  return `${runsPrefix(paths)}${runId}/`;
}

/** `<models><project>/<version>/`: a registered version's own copy of its package. */
export function versionPrefix(paths: Pick<StoragePaths, 'models'>, version: string): string {
  return `${paths.models}${version}/`;
}

/** `<models><project>/<version>/model.tar.gz`: what a SageMaker endpoint for that version loads. */
export function versionArchiveKey(paths: Pick<StoragePaths, 'models'>, version: string): string {
  return `${versionPrefix(paths, version)}${MODEL_ARCHIVE}`;
}

/** `registry/<project>/versions/`: the records of a project's complete versions. */
export function registryVersionsPrefix(paths: Pick<StoragePaths, 'registry'>, project: string): string {
  return `${paths.registry}${project}/versions/`;
}

/** `registry/<project>/versions/<version>.json`: a version's record; it exists only once the version is complete. */
export function registryVersionKey(paths: Pick<StoragePaths, 'registry'>, project: string, version: string): string {
  return `${registryVersionsPrefix(paths, project)}${version}.json`;
}

/** `registry/<project>/claims/`: version numbers taken by registrations (complete or not). */
export function registryClaimsPrefix(paths: Pick<StoragePaths, 'registry'>, project: string): string {
  return `${paths.registry}${project}/claims/`;
}

/** `registry/<project>/claims/<version>`: taken (create-if-absent) before a version's files are written. */
export function registryClaimKey(paths: Pick<StoragePaths, 'registry'>, project: string, version: string): string {
  return `${registryClaimsPrefix(paths, project)}${version}`;
}

/** `tracking/<project>/runs/`: the tracked runs of a project (its experiment). */
export function trackingRunsPrefix(paths: Pick<StoragePaths, 'tracking'>, project: string): string {
  return `${paths.tracking}${project}/runs/`;
}

/** `tracking/<project>/runs/<run>.json`: one run's record, rewritten whole (atomically) when the run ends. */
export function trackingRunKey(paths: Pick<StoragePaths, 'tracking'>, project: string, runId: string): string {
  return `${trackingRunsPrefix(paths, project)}${runId}.json`;
}

/** The root URI of an environment's bucket on a cloud: s3://bucket, gs://bucket or az://account/container. */
export function bucketUri(env: EnvironmentConfig, cloud: CloudName): string {
  const config = env[cloud];
  if (!config) throw new Error(`environment ${env.name} configures no ${cloud} section`);
  switch (cloud) {
    case 'aws':
      return `s3://${config.storage.bucket}`;
    case 'gcp':
      return `gs://${config.storage.bucket}`;
    case 'azure':
      return `az://${config.storage.bucket}/${azureContainerOf(env)}`;
  }
}

/** The blob container inside an Azure storage account (config `azure.storage.container`). */
export const DEFAULT_AZURE_CONTAINER = 'mlstack';

export function azureContainerOf(env: EnvironmentConfig): string {
  return env.azure?.storage.container ?? DEFAULT_AZURE_CONTAINER;
}
