/**
 * What a command or a stage works on, resolved in one place: the project, the environment, the cloud, the
 * configuration, the store and the project's part of the storage layout. Every CLI command, the local
 * pipeline and the container entrypoints resolve through here, so `--env`, `--cloud` and `--project` (or the
 * variables a stack sets) are checked by the same code and mean the same everywhere.
 *
 * The project scopes every lookup: processed runs, run packages, checkpoints, studies, watermarks and registry
 * versions all sit under the project's prefixes (projectLayout in runtime/contract/layout.ts), so two projects
 * share a workdir or a bucket without seeing each other. It is pipeline.json's `project` unless `--project`
 * overrides it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isEnvironmentName, loadProjectConfig, requireCloud } from '../../config/load';
import { CLOUDS, ENVIRONMENTS, pipelineSchema, type EnvironmentName, type ProjectConfig } from '../../config/schema';
import { UsageError } from '../common/errors';
import { bucketUri, DEFAULT_WORKDIR, storagePaths, type StoragePaths, type StoreCloud } from '../contract/layout';
import type { ObjectStore } from '../storage/object-store';
import { openStoreRoot, storeForEnvironment } from '../storage/open';

/** Where data and models can live: `local` is a folder (the workdir), the others the environment's bucket. */
export const STORE_CLOUDS: readonly StoreCloud[] = ['local', ...CLOUDS];

export interface RunContext {
  /** The configuration, with `pipeline.project` set to the project every lookup is scoped by (the override applied). */
  project: ProjectConfig;
  envName: EnvironmentName;
  cloud: StoreCloud;
  store: ObjectStore;
  /** The project's prefixes in that store (storagePaths with the project level). */
  paths: StoragePaths;
  /** The store root as a URI when it is a bucket (s3://b, gs://b, az://account/container); absent for a local folder. */
  bucket?: string;
}

/** How the inputs are named in messages: flags on the CLI, variables in a container. */
export interface InputNames {
  env: string;
  cloud: string;
  project: string;
  bucket: string;
}

export const CLI_INPUTS: InputNames = { env: '--env', cloud: '--cloud', project: '--project', bucket: '--bucket' };

export interface ContextRequest {
  configDir: string;
  env: string;
  cloud: string;
  /** The store root when cloud is local. @default DEFAULT_WORKDIR */
  workdir?: string;
  /** Overrides pipeline.json's project for every lookup (`--project`). */
  project?: string;
  /** The project a stack declares for its container: must equal pipeline.json's (the image and the stack must agree). */
  declaredProject?: string;
  /** A store root instead of the environment's bucket or the workdir (a container's bucket variable). */
  bucket?: string;
  /** @default CLI_INPUTS */
  names?: InputNames;
}

function expectedOneOf(name: string, value: string, accepted: readonly string[]): UsageError {
  return new UsageError(`unknown ${name} "${value}": expected one of ${accepted.join(', ')}`);
}

/** An environment name (dev, qa, staging, prod); a UsageError naming the flag or variable otherwise. */
export function parseEnvironmentName(value: string, name = CLI_INPUTS.env): EnvironmentName {
  if (!isEnvironmentName(value)) throw expectedOneOf(name, value, ENVIRONMENTS);
  return value;
}

/** A store cloud (local, aws, gcp, azure), or one of `accepted`; a UsageError naming the flag or variable otherwise. */
export function parseStoreCloud(value: string, name = CLI_INPUTS.cloud, accepted: readonly StoreCloud[] = STORE_CLOUDS): StoreCloud {
  if (!(accepted as readonly string[]).includes(value)) throw expectedOneOf(name, value, accepted);
  return value as StoreCloud;
}

/** A project name as pipeline.json allows it (the registry and the layout use it as a folder name). */
export function parseProjectName(value: string, name = CLI_INPUTS.project): string {
  const result = pipelineSchema.shape.project.safeParse(value);
  if (!result.success) throw new UsageError(`${name} "${value}" is not a project name: ${result.error.issues[0]?.message ?? 'invalid'}`);
  return value;
}

/** The configuration with its project replaced by `project` (a copy; the loaded one is left as is). */
export function withProject(config: ProjectConfig, project: string | undefined, name = CLI_INPUTS.project): ProjectConfig {
  if (project === undefined || project === config.pipeline.project) return config;
  return { ...config, pipeline: { ...config.pipeline, project: parseProjectName(project, name) } };
}

/** A stack's declared project must be the image's config's: otherwise the two were built from different configs. */
export function assertDeclaredProject(config: ProjectConfig, declared: string | undefined, name: string): void {
  if (declared === undefined || declared === config.pipeline.project) return;
  throw new UsageError(
    `${name} is "${declared}" but ${path.join(config.dir, 'pipeline.json')} has project "${config.pipeline.project}": ` +
      `the stack and the image's config disagree; deploy the stack and build the image from the same config`,
  );
}

async function openStore(request: ContextRequest, config: ProjectConfig, envName: EnvironmentName, cloud: StoreCloud, names: InputNames): Promise<{ store: ObjectStore; bucket?: string }> {
  if (request.bucket !== undefined) {
    try {
      return { store: await openStoreRoot(request.bucket), bucket: request.bucket };
    } catch (err) {
      throw new UsageError(`${names.bucket} is "${request.bucket}": ${(err as Error).message}`);
    }
  }
  const environment = config.environments[envName];
  const bucket = cloud === 'local' ? undefined : bucketUri(requireCloud(environment, cloud), cloud);
  return { store: await storeForEnvironment(environment, cloud, path.resolve(request.workdir ?? DEFAULT_WORKDIR)), ...(bucket ? { bucket } : {}) };
}

/**
 * Validates the environment and cloud, loads the configuration, applies the project override, opens the store
 * (the bucket given, the environment's bucket, or the workdir for `local`) and lays out the project's prefixes.
 * Nothing is read from the store yet.
 */
export async function resolveContext(request: ContextRequest): Promise<RunContext> {
  const names = request.names ?? CLI_INPUTS;
  const envName = parseEnvironmentName(request.env, names.env);
  const cloud = parseStoreCloud(request.cloud, names.cloud);
  const loaded = loadProjectConfig(request.configDir);
  assertDeclaredProject(loaded, request.declaredProject, names.project);
  const project = withProject(loaded, request.project, names.project);
  const { store, bucket } = await openStore(request, project, envName, cloud, names);
  const paths = storagePaths(project.environments[envName], cloud, project.pipeline.project);
  return { project, envName, cloud, store, paths, ...(bucket ? { bucket } : {}) };
}

/**
 * The project a command without an environment (serve, batch) looks versions up in: `--project`, else the
 * configuration folder's pipeline.json when there is one, else undefined (the registry's only project).
 */
export function lookupProject(configDir: string | undefined, project: string | undefined): string | undefined {
  if (project !== undefined) return parseProjectName(project);
  if (configDir === undefined || !fs.existsSync(path.join(configDir, 'pipeline.json'))) return undefined;
  return loadProjectConfig(configDir).pipeline.project;
}
