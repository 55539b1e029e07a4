/** Where the CLI's training commands read and write: the project's data, packages and versions in the environment's store. */
import type { RunContext } from '../context';
import { processedRunPrefix, runPackagePrefix, SUCCESS_MARKER, type StoragePaths } from '../contract/layout';
import type { ObjectStore } from '../storage/object-store';
import { openObjectUri } from '../storage/open';
import { ModelRegistry } from '../registry';
import { UsageError } from '../common/errors';
import { PACKAGE_FILES } from '../model/package';
import { resolveCsvKeys } from './data';

/** The project, environment, cloud, store and the project's prefixes a training command works on (runtime/context resolves it). */
export type EnvironmentContext = RunContext;

/** One complete ingestion run: its id, folder and CSV objects. */
export interface ProcessedRun {
  runId: string;
  prefix: string;
  keys: string[];
}

/**
 * The newest complete processed run (one whose folder holds the `_SUCCESS.json` marker ingestion writes
 * last), by run id order; null when there is none. Runs without the marker are still being written.
 */
export async function newestCompleteProcessedRun(store: ObjectStore, paths: Pick<StoragePaths, 'processed'>): Promise<ProcessedRun | null> {
  const complete = (await store.list(paths.processed))
    .map((o) => o.key.slice(paths.processed.length).split('/'))
    .filter((parts) => parts.length === 2 && parts[1] === SUCCESS_MARKER && parts[0] !== '')
    .map((parts) => parts[0])
    .sort();
  const runId = complete[complete.length - 1];
  if (runId === undefined) return null;
  const prefix = processedRunPrefix(paths, runId);
  return { runId, prefix, keys: await resolveCsvKeys(store, prefix) };
}

/** CSV keys for --data (a file, folder or object URI), or the newest complete processed run in the environment's store. */
export async function resolveData(ctx: Pick<EnvironmentContext, 'store' | 'paths'>, data?: string): Promise<{ store: ObjectStore; keys: string[] }> {
  if (data) {
    const { store, key } = await openObjectUri(data);
    return { store, keys: await resolveCsvKeys(store, key) };
  }
  const run = await newestCompleteProcessedRun(ctx.store, ctx.paths);
  if (!run) {
    throw new UsageError(
      `no complete processed run under ${ctx.store.uri(ctx.paths.processed)} (a run is complete once ingestion writes its ${SUCCESS_MARKER}): run \`mlstack ingest\` first or pass --data <csv file or folder>`,
    );
  }
  return { store: ctx.store, keys: run.keys };
}

/** A package from a registry version (v3), a run id under models/, or a folder / object URI. */
export async function resolvePackage(
  ctx: EnvironmentContext | null,
  model: string,
): Promise<{ store: ObjectStore; prefix: string; version?: string; /** For a version: what readModelPackage checks its manifest against. */ registered?: { version: string; manifestSha256?: string } }> {
  if (ctx && /^v\d+$/.test(model)) {
    const record = await new ModelRegistry(ctx.store, ctx.paths.registry, ctx.project.pipeline.project).get(model);
    return { store: ctx.store, prefix: record.package_prefix, version: record.version, registered: { version: record.version, manifestSha256: record.manifest_sha256 } };
  }
  if (ctx && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(model) && (await ctx.store.exists(`${runPackagePrefix(ctx.paths, model)}${PACKAGE_FILES.metadata}`))) {
    return { store: ctx.store, prefix: runPackagePrefix(ctx.paths, model) };
  }
  const { store, key } = await openObjectUri(model);
  return { store, prefix: key === '' || key.endsWith('/') ? key : `${key}/` };
}
