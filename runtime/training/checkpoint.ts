/**
 * Per-epoch checkpoints: model weights, optimizer state, the best weights so far and the
 * loop state, so a killed run resumes exactly where it stopped.
 *
 * Layout under `<checkpointsPrefix><runId>/`:
 *   ckpt-000003.bin    float32 tensors, concatenated
 *   ckpt-000003.json   manifest: tensor table, loop state, sha256 of the .bin and of itself
 * The .bin is written first and the manifest last (each put is atomic), so a manifest
 * always names a complete payload; the checksums catch a corrupted or truncated copy
 * (e.g. a partial sync from /opt/ml/checkpoints), which is then skipped for the previous one.
 */
import { createHash } from 'node:crypto';
import * as tf from '../model/tf';
import type { Logger } from '../common/logger';
import type { ObjectStore } from '../storage/object-store';
import { stableStringify } from './data';

export const CHECKPOINT_FORMAT_VERSION = 1;
/** Older checkpoints beyond this many are deleted after each save. */
export const CHECKPOINTS_KEPT = 3;

export interface EpochRecord {
  epoch: number;
  [metric: string]: number;
}

/** Everything about the loop that a resume needs besides tensors. */
export interface LoopState {
  /** Epochs completed (1-based count). */
  epoch: number;
  history: EpochRecord[];
  bestMetric: number | null;
  bestEpoch: number;
  epochsWithoutImprovement: number;
  stopped: boolean;
  /** Current learning rate (reduced on plateaus); absent in older checkpoints. */
  learningRate?: number;
}

interface TensorEntry {
  group: 'model' | 'optimizer' | 'best';
  name: string;
  shape: number[];
  /** Offset and length in float32 elements. */
  offset: number;
  length: number;
}

interface Manifest {
  format_version: number;
  run_id: string;
  data_hash: string;
  config_hash: string;
  created_at: string;
  state: LoopState;
  tensors: TensorEntry[];
  payload_sha256: string;
  /** sha256 of this manifest without this field. */
  manifest_sha256?: string;
}

export interface CheckpointIdentity {
  runId: string;
  dataHash: string;
  configHash: string;
}

export interface RestoredCheckpoint {
  state: LoopState;
  /** Best weights so far (for early stopping's restore), in model weight order. */
  bestWeights: tf.Tensor[];
}

function prefixFor(checkpointsPrefix: string, runId: string): string {
  return `${checkpointsPrefix}${runId}/`;
}

function keyFor(checkpointsPrefix: string, runId: string, epoch: number, ext: 'bin' | 'json'): string {
  return `${prefixFor(checkpointsPrefix, runId)}ckpt-${String(epoch).padStart(6, '0')}.${ext}`;
}

function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function manifestDigest(manifest: Manifest): string {
  const { manifest_sha256: _ignored, ...rest } = manifest;
  return sha256(stableStringify(rest));
}

export async function saveCheckpoint(
  store: ObjectStore,
  checkpointsPrefix: string,
  id: CheckpointIdentity,
  model: tf.LayersModel,
  bestWeights: tf.Tensor[],
  state: LoopState,
): Promise<string> {
  const groups: { group: TensorEntry['group']; name: string; tensor: tf.Tensor }[] = [];
  model.weights.forEach((w) => groups.push({ group: 'model', name: w.originalName, tensor: w.read() }));
  const optimizerWeights = model.optimizer ? await model.optimizer.getWeights() : [];
  optimizerWeights.forEach((w) => groups.push({ group: 'optimizer', name: w.name, tensor: w.tensor }));
  bestWeights.forEach((t, i) => groups.push({ group: 'best', name: `best/${i}`, tensor: t }));

  const tensors: TensorEntry[] = [];
  let total = 0;
  const arrays: Float32Array[] = [];
  for (const g of groups) {
    const data = (await g.tensor.data()) as Float32Array;
    tensors.push({ group: g.group, name: g.name, shape: g.tensor.shape, offset: total, length: data.length });
    arrays.push(data instanceof Float32Array ? data : Float32Array.from(data));
    total += data.length;
  }
  const payload = new Float32Array(total);
  arrays.forEach((a, i) => payload.set(a, tensors[i].offset));
  const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);

  const manifest: Manifest = {
    format_version: CHECKPOINT_FORMAT_VERSION,
    run_id: id.runId,
    data_hash: id.dataHash,
    config_hash: id.configHash,
    created_at: new Date().toISOString(),
    state,
    tensors,
    payload_sha256: sha256(bytes),
  };
  manifest.manifest_sha256 = manifestDigest(manifest);
  await store.put(keyFor(checkpointsPrefix, id.runId, state.epoch, 'bin'), bytes, { contentType: 'application/octet-stream' });
  const manifestKey = keyFor(checkpointsPrefix, id.runId, state.epoch, 'json');
  await store.put(manifestKey, JSON.stringify(manifest), { contentType: 'application/json' });
  await pruneCheckpoints(store, checkpointsPrefix, id.runId);
  return manifestKey;
}

async function manifestKeys(store: ObjectStore, checkpointsPrefix: string, runId: string): Promise<string[]> {
  return (await store.list(prefixFor(checkpointsPrefix, runId)))
    .map((o) => o.key)
    .filter((k) => /ckpt-\d{6}\.json$/.test(k))
    .sort();
}

async function pruneCheckpoints(store: ObjectStore, checkpointsPrefix: string, runId: string): Promise<void> {
  const keys = await manifestKeys(store, checkpointsPrefix, runId);
  for (const key of keys.slice(0, Math.max(0, keys.length - CHECKPOINTS_KEPT))) {
    await store.delete(key);
    await store.delete(key.replace(/\.json$/, '.bin'));
  }
}

/** True when a valid checkpoint could exist (cheap check for polling). */
export async function latestCheckpointEpoch(store: ObjectStore, checkpointsPrefix: string, runId: string): Promise<number | null> {
  const keys = await manifestKeys(store, checkpointsPrefix, runId);
  if (keys.length === 0) return null;
  return Number(/ckpt-(\d{6})\.json$/.exec(keys[keys.length - 1])?.[1]);
}

/**
 * Restores the newest valid checkpoint of the run into `model` (weights and optimizer).
 * Corrupt ones, or ones made from other data or config, are logged and skipped.
 */
export async function restoreLatestCheckpoint(
  store: ObjectStore,
  checkpointsPrefix: string,
  id: CheckpointIdentity,
  model: tf.LayersModel,
  logger: Logger,
): Promise<RestoredCheckpoint | null> {
  const keys = (await manifestKeys(store, checkpointsPrefix, id.runId)).reverse();
  for (const key of keys) {
    const problem = await tryRestore(store, key, id, model);
    if (typeof problem !== 'string') return problem;
    logger.warn({ checkpoint: store.uri(key), problem }, `ignoring checkpoint ${key}: ${problem}`);
  }
  return null;
}

async function tryRestore(store: ObjectStore, key: string, id: CheckpointIdentity, model: tf.LayersModel): Promise<RestoredCheckpoint | string> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse((await store.get(key)).toString('utf8')) as Manifest;
  } catch (err) {
    return `unreadable manifest (${(err as Error).message})`;
  }
  if (manifest.manifest_sha256 !== manifestDigest(manifest)) return 'manifest checksum mismatch';
  if (manifest.format_version !== CHECKPOINT_FORMAT_VERSION) return `format_version ${manifest.format_version} is not ${CHECKPOINT_FORMAT_VERSION}`;
  if (manifest.data_hash !== id.dataHash) return 'it was trained on different data';
  if (manifest.config_hash !== id.configHash) return 'it was trained with a different configuration';
  let bytes: Buffer;
  try {
    bytes = await store.get(key.replace(/\.json$/, '.bin'));
  } catch (err) {
    return `payload missing (${(err as Error).message})`;
  }
  if (sha256(bytes) !== manifest.payload_sha256) return 'payload checksum mismatch (corrupt or truncated)';
  const aligned = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const tensorOf = (e: TensorEntry) => tf.tensor(aligned.subarray(e.offset, e.offset + e.length), e.shape, 'float32');

  const modelEntries = manifest.tensors.filter((e) => e.group === 'model');
  if (modelEntries.length !== model.weights.length || modelEntries.some((e, i) => e.shape.join('x') !== model.weights[i].shape.join('x'))) {
    return 'its tensors do not match the model architecture';
  }
  const modelTensors = modelEntries.map(tensorOf);
  model.setWeights(modelTensors);
  tf.dispose(modelTensors);
  const optimizerEntries = manifest.tensors.filter((e) => e.group === 'optimizer');
  if (model.optimizer && optimizerEntries.length > 0) {
    const named = optimizerEntries.map((e) => ({ name: e.name, tensor: tensorOf(e) }));
    await model.optimizer.setWeights(named);
  }
  const bestWeights = manifest.tensors.filter((e) => e.group === 'best').map(tensorOf);
  return { state: manifest.state, bestWeights };
}
