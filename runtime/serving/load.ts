import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readModelPackage, type PackageTrust } from '../model/package';
import { findPackageDir } from '../model/package-dir';
import { ModelRegistry, type ModelVersion } from '../registry/index';
import { LocalObjectStore } from '../storage/local-store';
import type { ObjectStore } from '../storage/object-store';
import { openObjectUri } from '../storage/open';
import { predictorFromPackage } from './model-predictor';
import type { Predictor } from './predictor';
import { DEFAULT_WORKDIR, FIXED_PREFIXES } from '../contract/layout';
import { NotFoundError, UsageError } from '../common/errors';

export interface LoadPredictorOptions {
  /** Local workdir whose registry resolves versions. @default '.mlstack' */
  workdir?: string;
  /** Store holding the registry (overrides workdir and registryUri). */
  store?: ObjectStore;
  /**
   * URI of the store whose `registry/` resolves versions, e.g. gs://bucket/, az://account/container/ or
   * s3://bucket/ (the cloud stacks pass it as MLSTACK_REGISTRY_URI). Overrides workdir.
   */
  registryUri?: string;
  /** Registry project (needed only when the registry holds several). */
  project?: string;
  /** Reported version when the source is a folder or URI. @default the package's run_id */
  version?: string;
}

const URI = /^[a-z0-9]+:\/\//;
/** Where the registry lives inside its store (runtime/common/paths.ts storagePaths().registry). */
const REGISTRY_PREFIX = FIXED_PREFIXES.registry;
export const LATEST = 'latest';

/**
 * Loads a model for serving from a registry version ("v3"), a package folder, or a package
 * URI (file://, s3://, gs://, az://). Errors name the source and what was missing.
 */
export async function loadPredictor(source: string, opts: LoadPredictorOptions = {}): Promise<Predictor> {
  if (URI.test(source)) {
    const { store, key } = await openObjectUri(source.endsWith('/') ? source : `${source}/`);
    return fromStore(store, key, opts.version);
  }
  if (fs.existsSync(source)) {
    const dir = findPackageDir(path.resolve(source));
    return fromStore(new LocalObjectStore(dir), '', opts.version);
  }
  const { store, prefix } = await registryLocation(opts);
  const record = await registryRecord(store, prefix, source, opts.project);
  return fromStore(store, record.package_prefix, opts.version ?? record.version, { registered: { version: record.version, manifestSha256: record.manifest_sha256 } });
}

/** Registry records sit under `<root>registry/`; their package_prefix is relative to the same store. */
async function registryLocation(opts: LoadPredictorOptions): Promise<{ store: ObjectStore; prefix: string }> {
  if (opts.store) return { store: opts.store, prefix: REGISTRY_PREFIX };
  if (opts.registryUri) {
    if (!URI.test(opts.registryUri)) {
      throw new UsageError(`registry URI "${opts.registryUri}" is not an object URI: use s3://bucket/, gs://bucket/ or az://account/container/`);
    }
    if (opts.registryUri.startsWith('file://')) {
      // A local folder plays the bucket: its root holds registry/ and the packages.
      return { store: new LocalObjectStore(fileURLToPath(opts.registryUri)), prefix: REGISTRY_PREFIX };
    }
    const { store, key } = await openObjectUri(opts.registryUri.endsWith('/') ? opts.registryUri : `${opts.registryUri}/`);
    if (key !== '') {
      // package_prefix in the records is relative to the bucket root, so the registry must sit there too.
      throw new UsageError(`registry URI "${opts.registryUri}" must be the bucket root (s3://bucket/, gs://bucket/ or az://account/container/), where registry/ lives; found the key "${key}" after it`);
    }
    return { store, prefix: REGISTRY_PREFIX };
  }
  return { store: new LocalObjectStore(path.resolve(opts.workdir ?? DEFAULT_WORKDIR)), prefix: REGISTRY_PREFIX };
}

/** Every file is checked against the package's manifest (and, for a registry version, the manifest against the record) once, here: never per request. */
async function fromStore(store: ObjectStore, prefix: string, version: string | undefined, trust?: PackageTrust): Promise<Predictor> {
  const pkg = await readModelPackage(store, prefix, trust);
  return predictorFromPackage(pkg, version ?? pkg.metadata.run_id);
}

/** `latest` is the newest registered version (the stacks pin `latest` when an environment sets no model_version). */
async function registryRecord(store: ObjectStore, prefix: string, version: string, project?: string): Promise<ModelVersion> {
  const registry = new ModelRegistry(store, prefix, project);
  if (version !== LATEST) return registry.get(version);
  const latest = await registry.latest();
  if (!latest) throw new NotFoundError(`no model version registered in ${store.uri(prefix)}: train and register one (mlstack train) or pin a version`);
  return latest;
}
