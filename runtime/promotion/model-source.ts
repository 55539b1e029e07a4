import { z } from 'zod';
import { LocalObjectStore } from '../storage/local-store';
import { ObjectNotFoundError, type ObjectStore } from '../storage/object-store';
import { openObjectUri } from '../storage/open';

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
}

/** `--registry-uri` (file://, s3://, gs://, az://) wins over `--workdir` (a local folder holding registry/). */
export async function openRegistryLocation(options: { workdir?: string; registryUri?: string }): Promise<RegistryLocation> {
  if (options.registryUri) {
    const { store, key } = await openObjectUri(options.registryUri);
    return { store, prefix: key === '' ? '' : `${key.replace(/\/+$/, '')}/` };
  }
  return { store: new LocalObjectStore(options.workdir ?? '.mlstack'), prefix: 'registry/' };
}

function versionsPrefix(location: RegistryLocation, project: string): string {
  return `${location.prefix}${project}/versions/`;
}

/**
 * Reads one version record: `<prefix><project>/versions/<version>.json`, the layout
 * runtime/registry writes. Kept to this one function so it can delegate to
 * ModelRegistry without touching the promotion logic.
 */
export async function loadModelVersion(location: RegistryLocation, project: string, version: string): Promise<ModelVersionRecord> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(version)) {
    throw new ModelNotFoundError(`invalid model version "${version}": letters, digits, ".", "_" and "-" only`);
  }
  const key = `${versionsPrefix(location, project)}${version}.json`;
  let raw: Buffer;
  try {
    raw = await location.store.get(key);
  } catch (err) {
    if (!(err instanceof ObjectNotFoundError)) throw err;
    const available = await listModelVersions(location, project);
    throw new ModelNotFoundError(
      `model version "${version}" not found at ${location.store.uri(key)}; ` +
        (available.length
          ? `available versions of ${project}: ${available.join(', ')}`
          : `the registry has no versions of ${project}: train and register one first (or pass --workdir / --registry-uri)`),
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new Error(`${location.store.uri(key)} is not valid JSON: ${(err as Error).message}`);
  }
  const result = modelVersionRecordSchema.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new Error(`${location.store.uri(key)}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return result.data;
}

export async function listModelVersions(location: RegistryLocation, project: string): Promise<string[]> {
  const prefix = versionsPrefix(location, project);
  const objects = await location.store.list(prefix);
  return objects.map((o) => o.key.slice(prefix.length)).filter((k) => k.endsWith('.json') && !k.includes('/')).map((k) => k.slice(0, -5));
}

export class ModelNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelNotFoundError';
  }
}
