import type { Readable } from 'node:stream';
import { MlstackError } from '../common/errors';

/** What a listing returns for one object. */
export interface ObjectInfo {
  /** Key relative to the store's root, always with forward slashes. */
  key: string;
  size: number;
  lastModified?: Date;
}

export type ObjectBody = Buffer | string | Uint8Array | Readable;

export interface PutOptions {
  contentType?: string;
  /** Fail with ObjectExistsError instead of overwriting (used by run-id idempotency and registries). */
  ifNotExists?: boolean;
}

/**
 * The only interface the runtime uses to read and write data. Keys are
 * relative paths ("data/raw/run-1/part-0.jsonl"); `uri(key)` gives the
 * absolute form (file://, s3://, gs://, az://). Every put is atomic: a
 * reader sees the old object or the whole new one, never a partial write.
 */
export interface ObjectStore {
  /** The URI of the store's root, ending with "/". */
  readonly root: string;
  put(key: string, body: ObjectBody, options?: PutOptions): Promise<void>;
  get(key: string): Promise<Buffer>;
  /** A stream of the object's bytes; rejects with ObjectNotFoundError when absent. */
  stream(key: string): Promise<Readable>;
  exists(key: string): Promise<boolean>;
  /** Objects whose key starts with `prefix`, sorted by key. */
  list(prefix: string): Promise<ObjectInfo[]>;
  delete(key: string): Promise<void>;
  uri(key: string): string;
}

export class ObjectNotFoundError extends MlstackError {
  constructor(readonly uri: string) {
    super('NOT_FOUND', `object not found: ${uri}`);
    this.name = 'ObjectNotFoundError';
  }
}

export class ObjectExistsError extends MlstackError {
  constructor(readonly uri: string) {
    super('ALREADY_EXISTS', `object already exists: ${uri}`);
    this.name = 'ObjectExistsError';
  }
}

/** Rejects keys that could escape the store root or are not portable across clouds. */
export function assertValidKey(key: string): void {
  if (key.length === 0 || key.length > 1024) throw new Error(`invalid object key "${key}": 1 to 1024 characters`);
  if (key.startsWith('/') || key.split('/').some((part) => part === '..' || part === '.')) {
    throw new Error(`invalid object key "${key}": must be relative, without "." or ".." segments`);
  }
  if (key.includes('\\') || key.includes('\0')) throw new Error(`invalid object key "${key}": no backslashes or NUL`);
}

export function joinKey(...parts: string[]): string {
  return parts
    .filter((p) => p.length > 0)
    .map((p, i) => (i === 0 ? p.replace(/\/+$/, '') : p.replace(/^\/+|\/+$/g, '')))
    .join('/');
}

export async function getText(store: ObjectStore, key: string): Promise<string> {
  return (await store.get(key)).toString('utf8');
}

export async function getJson<T = unknown>(store: ObjectStore, key: string): Promise<T> {
  const text = await getText(store, key);
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`${store.uri(key)} is not valid JSON: ${(err as Error).message}`);
  }
}

export async function putJson(store: ObjectStore, key: string, value: unknown, options?: PutOptions): Promise<void> {
  await store.put(key, JSON.stringify(value, null, 2) + '\n', { contentType: 'application/json', ...options });
}
