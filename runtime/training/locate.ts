/** Where the CLI's training commands read and write: the environment's store, data and packages. */
import { loadProjectConfig } from '../../config/load';
import { ENVIRONMENTS, type EnvironmentName, type ProjectConfig } from '../../config/schema';
import { storagePaths, type StoragePaths } from '../contract/layout';
import type { ObjectStore } from '../storage/object-store';
import { openObjectUri, storeForEnvironment, type StoreCloud } from '../storage/open';
import { ModelRegistry } from '../registry';
import { UsageError } from '../cli/errors';
import { resolveCsvKeys } from './data';

export interface EnvironmentContext {
  project: ProjectConfig;
  envName: EnvironmentName;
  cloud: StoreCloud;
  store: ObjectStore;
  paths: StoragePaths;
}


export async function openEnvironment(opts: { env: string; cloud: StoreCloud; configDir: string; workdir: string }): Promise<EnvironmentContext> {
  if (!(ENVIRONMENTS as readonly string[]).includes(opts.env)) {
    throw new UsageError(`unknown --env "${opts.env}": expected one of ${ENVIRONMENTS.join(', ')}`);
  }
  const project = loadProjectConfig(opts.configDir);
  const env = project.environments[opts.env as EnvironmentName];
  const store = await storeForEnvironment(env, opts.cloud, opts.workdir);
  return { project, envName: opts.env as EnvironmentName, cloud: opts.cloud, store, paths: storagePaths(env, opts.cloud) };
}

/** CSV keys for --data (a file, folder or object URI), or the newest processed run in the environment's store. */
export async function resolveData(ctx: EnvironmentContext, data?: string): Promise<{ store: ObjectStore; keys: string[] }> {
  if (data) {
    const { store, key } = await openObjectUri(data);
    return { store, keys: await resolveCsvKeys(store, key) };
  }
  const processed = (await ctx.store.list(ctx.paths.processed)).map((o) => o.key).filter((k) => /\.csv$/i.test(k));
  if (processed.length === 0) {
    throw new UsageError(`no processed data under ${ctx.store.uri(ctx.paths.processed)}: run \`mlstack ingest\` first or pass --data <csv file or folder>`);
  }
  const runs = [...new Set(processed.map((k) => k.slice(ctx.paths.processed.length).split('/')[0]))].sort();
  const latest = `${ctx.paths.processed}${runs[runs.length - 1]}/`;
  return { store: ctx.store, keys: processed.filter((k) => k.startsWith(latest)) };
}

/** A package from a registry version (v3), a run id under models/, or a folder / object URI. */
export async function resolvePackage(ctx: EnvironmentContext | null, model: string): Promise<{ store: ObjectStore; prefix: string; version?: string }> {
  if (ctx && /^v\d+$/.test(model)) {
    const record = await new ModelRegistry(ctx.store, ctx.paths.registry, ctx.project.pipeline.project).get(model);
    return { store: ctx.store, prefix: record.package_prefix, version: record.version };
  }
  if (ctx && /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(model) && (await ctx.store.exists(`${ctx.paths.models}${model}/metadata.json`))) {
    return { store: ctx.store, prefix: `${ctx.paths.models}${model}/` };
  }
  const { store, key } = await openObjectUri(model);
  return { store, prefix: key === '' || key.endsWith('/') ? key : `${key}/` };
}
