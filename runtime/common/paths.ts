import type { EnvironmentConfig } from '../../config/schema';
import type { StoreCloud } from '../storage/open';

/** Where each kind of data lives inside a store. */
export interface StoragePaths {
  raw: string;
  processed: string;
  models: string;
  checkpoints: string;
  /** Model registry records. */
  registry: string;
  /** Ingestion state (watermarks) and tuning studies. */
  state: string;
}

/** The prefixes an environment uses on a cloud; `local` mirrors the AWS layout inside the workdir. */
export function storagePaths(env: EnvironmentConfig, cloud: StoreCloud): StoragePaths {
  const storage = cloud === 'local' ? env.aws.storage : env[cloud].storage;
  return {
    raw: storage.raw_path,
    processed: storage.processed_path,
    models: storage.models_path,
    checkpoints: storage.checkpoints_path,
    registry: 'registry/',
    state: 'state/',
  };
}

/** A sortable, unique run id: 20261123T141500Z-ab12cd. */
export function newRunId(now: Date = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${Math.random().toString(16).slice(2, 8)}`;
}
