import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireCloud } from '../../config/load';
import type { EnvironmentConfig } from '../../config/schema';
import { bucketUri } from '../contract/layout';
import { LocalObjectStore } from './local-store';
import type { ObjectStore } from './object-store';

import type { StoreCloud } from '../contract/layout';
import { UsageError } from '../common/errors';

export type { StoreCloud };

/** A parsed object URI: which store holds it and the key inside that store. */
export interface ObjectLocation {
  store: ObjectStore;
  key: string;
}

const SCHEMES = ['file', 's3', 'gs', 'az'] as const;

/** Splits "s3://bucket/a/b" into ["s3", "bucket", "a/b"]; plain paths are file paths. */
export function parseObjectUri(uri: string): { scheme: (typeof SCHEMES)[number]; bucket: string; key: string } {
  const match = /^([a-z0-9]+):\/\/([^/]*)\/?(.*)$/.exec(uri);
  if (!match) {
    return { scheme: 'file', bucket: '', key: path.resolve(uri).replace(/^\/+/, '') };
  }
  const [, scheme, bucket, key] = match;
  if (scheme === 'file') {
    return { scheme: 'file', bucket: '', key: fileURLToPath(uri).replace(/^\/+/, '') };
  }
  if (!(SCHEMES as readonly string[]).includes(scheme)) {
    throw new UsageError(`unsupported object URI "${uri}": use file://, s3://, gs:// or az://account/container/key`);
  }
  if (!bucket) throw new UsageError(`object URI "${uri}" has no bucket`);
  return { scheme: scheme as (typeof SCHEMES)[number], bucket, key: decodeURIComponent(key) };
}

/** Opens the store that holds `uri`; cloud adapters load lazily so the local path needs no SDK. */
export async function openObjectUri(uri: string): Promise<ObjectLocation> {
  const { scheme, bucket, key } = parseObjectUri(uri);
  switch (scheme) {
    case 'file':
      return { store: new LocalObjectStore('/'), key };
    case 'az': {
      // az://account/container/key: the container is part of the store, not of the key.
      const [container, ...rest] = key.split('/');
      return { store: await openBucket('az', `${bucket}/${container}`), key: rest.join('/') };
    }
    default:
      return { store: await openBucket(scheme, bucket), key };
  }
}

/**
 * Opens a bucket (S3, GCS) or an Azure "account/container" pair as a store. Adapters load on first use
 * (a local run never loads a cloud SDK) through require(): a dynamic import() of a .ts file is not
 * resolved by the tsx loader that runs the CLI, while esbuild bundles a static require() as usual.
 */
export async function openBucket(scheme: 's3' | 'gs' | 'az', bucket: string): Promise<ObjectStore> {
  switch (scheme) {
    case 's3':
      return new (require('./s3-store') as typeof import('./s3-store')).S3ObjectStore(bucket);
    case 'gs':
      return new (require('./gcs-store') as typeof import('./gcs-store')).GcsObjectStore(bucket);
    case 'az': {
      const [account, container] = bucket.split('/');
      if (!account || !container) throw new UsageError(`Azure location "${bucket}" needs an account and a container: az://<account>/<container>/<key>`);
      return new (require('./azure-blob-store') as typeof import('./azure-blob-store')).AzureBlobObjectStore(account, container);
    }
  }
}

/**
 * Opens a store root as a store: s3://bucket, gs://bucket, az://account/container, file:///dir or a folder path.
 * A URI that names a folder inside a bucket is refused: keys in registry records are relative to the root.
 */
export async function openStoreRoot(uri: string): Promise<ObjectStore> {
  if (!/^[a-z0-9]+:\/\//.test(uri)) return new LocalObjectStore(path.resolve(uri));
  if (uri.startsWith('file://')) return new LocalObjectStore(fileURLToPath(uri));
  const { store, key } = await openObjectUri(uri.endsWith('/') ? uri : `${uri}/`);
  if (key !== '') throw new UsageError(`"${uri}" must be a store root (s3://bucket, gs://bucket or az://account/container), not a folder inside one`);
  return store;
}

/** The store an environment uses on a cloud; `local` is a folder (the workdir). */
export async function storeForEnvironment(env: EnvironmentConfig, cloud: StoreCloud, workdir: string): Promise<ObjectStore> {
  switch (cloud) {
    case 'local':
      return new LocalObjectStore(workdir);
    default:
      return openStoreRoot(bucketUri(requireCloud(env, cloud), cloud));
  }
}
