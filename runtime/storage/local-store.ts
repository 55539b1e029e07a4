import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pathToFileURL } from 'node:url';
import {
  assertValidKey,
  ObjectExistsError,
  ObjectNotFoundError,
  type ObjectBody,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
} from './object-store';

const TEMP_MARKER = '.mlstack-tmp-';

/** An ObjectStore on the local filesystem. Writes go to a temp file in the same folder, then rename. */
export class LocalObjectStore implements ObjectStore {
  readonly root: string;
  private readonly dir: string;

  constructor(dir: string) {
    this.dir = path.resolve(dir);
    this.root = pathToFileURL(this.dir).href.replace(/\/?$/, '/');
  }

  private pathOf(key: string): string {
    assertValidKey(key);
    return path.join(this.dir, ...key.split('/'));
  }

  uri(key: string): string {
    assertValidKey(key);
    return this.root + key.split('/').map(encodeURIComponent).join('/');
  }

  async put(key: string, body: ObjectBody, options: PutOptions = {}): Promise<void> {
    const target = this.pathOf(key);
    await fsp.mkdir(path.dirname(target), { recursive: true });
    const temp = `${target}${TEMP_MARKER}${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      if (body instanceof Readable) {
        await pipeline(body, fs.createWriteStream(temp));
      } else {
        await fsp.writeFile(temp, body);
      }
      const handle = await fsp.open(temp, 'r+');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      if (options.ifNotExists) {
        // link() fails with EEXIST when the target exists: an atomic create-if-absent.
        try {
          await fsp.link(temp, target);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new ObjectExistsError(this.uri(key));
          throw err;
        }
        await fsp.rm(temp, { force: true });
      } else {
        await fsp.rename(temp, target);
      }
    } catch (err) {
      await fsp.rm(temp, { force: true });
      throw err;
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await fsp.readFile(this.pathOf(key));
    } catch (err) {
      throw this.translate(err, key);
    }
  }

  async stream(key: string): Promise<Readable> {
    const file = this.pathOf(key);
    try {
      const handle = await fsp.open(file, 'r');
      return handle.createReadStream();
    } catch (err) {
      throw this.translate(err, key);
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      const stat = await fsp.stat(this.pathOf(key));
      return stat.isFile();
    } catch {
      return false;
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    const walk = async (dir: string, keyPrefix: string): Promise<void> => {
      let entries: fs.Dirent[];
      try {
        entries = await fsp.readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const entry of entries) {
        const key = keyPrefix + entry.name;
        if (entry.isDirectory()) {
          if ((key + '/').startsWith(prefix) || prefix.startsWith(key + '/')) await walk(path.join(dir, entry.name), key + '/');
        } else if (entry.isFile() && key.startsWith(prefix) && !entry.name.includes(TEMP_MARKER)) {
          const stat = await fsp.stat(path.join(dir, entry.name));
          out.push({ key, size: stat.size, lastModified: stat.mtime });
        }
      }
    };
    await walk(this.dir, '');
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    await fsp.rm(this.pathOf(key), { force: true });
  }

  private translate(err: unknown, key: string): Error {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR') return new ObjectNotFoundError(this.uri(key));
    return err as Error;
  }
}
