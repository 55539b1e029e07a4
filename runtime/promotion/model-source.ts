import { z } from 'zod';
import { LocalObjectStore } from '../storage/local-store';
import { ModelRegistry, UnknownVersionError } from '../registry/index';
import type { ObjectStore } from '../storage/object-store';
import { openObjectUri, openStoreRoot } from '../storage/open';
import { DEFAULT_WORKDIR, FIXED_PREFIXES } from '../contract/layout';
import { UsageError } from '../common/errors';

/** What promotion needs from a registry version record. */
export const modelVersionRecordSchema = z.object({
  version: z.string().min(1),
  project: z.string().min(1),
  created_at: z.string().optional(),
  package_uri: z.string().optional(),
  metrics: z.record(z.string(), z.number()),
  lineage: z
    .object({
      data_hash: z.string().optional(),
      config_hash: z.string().optional(),
      code_version: z.string().optional(),
      run_id: z.string().optional(),
      parent_run: z.string().nullable().optional(),
      data_uri: z.string().optional(),
    })
    .prefault({}),
});

export type ModelVersionRecord = z.infer<typeof modelVersionRecordSchema>;

/** A registry: the store holding it and the prefix its records live under ("registry/"). */
export interface RegistryLocation {
  store: ObjectStore;
  prefix: string;
  /** Whose versions to read instead of the base config's project (`--project`). */
  project?: string;
}

/**
 * `--registry-uri` wins over `--workdir` (a local folder holding registry/). Like `mlstack serve --registry-uri`
 * and the stacks' MLSTACK_REGISTRY_URI it names the store root holding registry/ (s3://bucket/, gs://bucket/,
 * az://account/container/, file:///dir/); a URI naming the registry folder itself (…/registry/) is accepted too.
 */
export async function openRegistryLocation(options: { workdir?: string; registryUri?: string }): Promise<RegistryLocation> {
  const registryFolder = FIXED_PREFIXES.registry.replace(/\/$/, '');
  if (options.registryUri) {
    const trimmed = options.registryUri.replace(/\/+$/, '');
    if (trimmed.endsWith(`/${registryFolder}`)) {
      const { store, key } = await openObjectUri(`${trimmed}/`);
      return { store, prefix: key };
    }
    return { store: await openStoreRoot(options.registryUri), prefix: FIXED_PREFIXES.registry };
  }
  return { store: new LocalObjectStore(options.workdir ?? DEFAULT_WORKDIR), prefix: FIXED_PREFIXES.registry };
}

/**
 * Reads one version record through the model registry (runtime/registry), which
 * stores it at `<prefix><project>/versions/<version>.json`. "latest" means the
 * highest registered version. The record is re-validated here because promotion
 * puts its metrics and lineage in front of reviewers. A version that is malformed or
 * not registered is a usage mistake (exit 2, as `mlstack serve --model` exits): the
 * ModelNotFoundError names --model and the versions that exist.
 */
export async function loadModelVersion(location: RegistryLocation, configProject: string, version: string): Promise<ModelVersionRecord> {
  const project = location.project ?? configProject;
  const registry = new ModelRegistry(location.store, location.prefix, project);
  let record: unknown;
  try {
    if (version === 'latest') {
      record = await registry.latest();
      if (record === null) {
        throw new ModelNotFoundError(
          `--model latest: the registry at ${location.store.uri(location.prefix)} has no versions of ${project}: train and register one first (or pass --workdir / --registry-uri)`,
        );
      }
    } else {
      record = await registry.get(version);
    }
  } catch (err) {
    if (err instanceof UnknownVersionError) {
      const why = /^v[1-9]\d*$/.test(version) ? ':' : ' is not a version (versions look like v1, v2, ... or "latest"):';
      throw new ModelNotFoundError(`--model ${JSON.stringify(version)}${why} ${err.message} (registry ${location.store.uri(location.prefix)})`, err);
    }
    throw err;
  }
  const result = modelVersionRecordSchema.safeParse(record);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Error(`registry record ${project}/${version} at ${location.store.uri(location.prefix)}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return result.data;
}

export async function listModelVersions(location: RegistryLocation, project: string): Promise<string[]> {
  return (await new ModelRegistry(location.store, location.prefix, project).list()).map((r) => r.version);
}

/** `--model` names no registered version: a usage mistake (exit 2), the same as for `mlstack serve --model`. */
export class ModelNotFoundError extends UsageError {
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'ModelNotFoundError';
  }
}
