/** Folders and object URIs the training container is given, as stores and keys. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalObjectStore } from '../storage/local-store';
import type { ObjectStore } from '../storage/object-store';
import { openObjectUri } from '../storage/open';
import { resolveCsvKeys } from './data';
import { NotFoundError } from '../common/errors';

const URI = /^[a-z0-9]+:\/\//;

/** A store and prefix for a folder path or object URI (a folder gets its own LocalObjectStore). */
export async function locate(uriOrPath: string): Promise<{ store: ObjectStore; prefix: string }> {
  if (!URI.test(uriOrPath) || uriOrPath.startsWith('file://')) {
    const dir = uriOrPath.startsWith('file://') ? fileURLToPath(uriOrPath) : path.resolve(uriOrPath);
    return { store: new LocalObjectStore(dir), prefix: '' };
  }
  const { store, key } = await openObjectUri(uriOrPath);
  return { store, prefix: key === '' || key.endsWith('/') ? key : `${key}/` };
}

/** CSV keys for a data location: a file, a folder/prefix, or a "*" glob over names (Vertex). Throws `fail(message)` when a glob matches nothing. */
export async function dataKeysFor(uriOrPath: string, fail: (message: string) => Error = (m) => new NotFoundError(m)): Promise<{ store: ObjectStore; keys: string[] }> {
  const star = uriOrPath.indexOf('*');
  if (star >= 0) {
    const slash = uriOrPath.lastIndexOf('/', star);
    const { store, prefix } = await locate(uriOrPath.slice(0, slash + 1));
    const pattern = new RegExp(`^${uriOrPath.slice(slash + 1).replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}$`);
    const keys = (await store.list(prefix)).map((o) => o.key).filter((k) => pattern.test(k.slice(prefix.length)));
    if (keys.length === 0) throw fail(`no training data matches ${uriOrPath}`);
    return { store, keys };
  }
  const localPath = uriOrPath.startsWith('file://') ? fileURLToPath(uriOrPath) : URI.test(uriOrPath) ? undefined : uriOrPath;
  if (localPath !== undefined && fs.existsSync(localPath) && fs.statSync(localPath).isFile()) {
    return { store: new LocalObjectStore(path.dirname(path.resolve(localPath))), keys: [path.basename(localPath)] };
  }
  if (URI.test(uriOrPath) && !uriOrPath.startsWith('file://')) {
    // An object URI: a CSV object, or a folder (with or without its trailing slash).
    const { store, key } = await openObjectUri(uriOrPath);
    return { store, keys: await resolveCsvKeys(store, key) };
  }
  const { store, prefix } = await locate(uriOrPath);
  return { store, keys: await resolveCsvKeys(store, prefix) };
}
