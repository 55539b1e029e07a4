/**
 * model.tar.gz, the archive SageMaker makes of /opt/ml/model and a registered version carries beside its files:
 * written and read as streams (tar-stream), so a package of any size passes through without being held in memory.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import * as tar from 'tar-stream';
import { MlstackError } from '../common/errors';

/** One file of an archive: its path inside it (forward slashes), its size in bytes, and how to read it. */
export interface ArchiveEntry {
  name: string;
  size: number;
  open(): Promise<Readable> | Readable;
}

const FILE_MODE = 0o644;
const FOLDER_MODE = 0o755;
const GZIP_MAGIC = [0x1f, 0x8b];
const EMPTY = Buffer.alloc(0);
/** zlib's default 16 KiB chunks make streaming gzip about 20 % slower than gzipSync on float weights; 64 KiB closes most of it (bench/tar.ts). */
const ZLIB_OPTIONS = { chunkSize: 64 * 1024 };

type HeaderArgument = Parameters<tar.Pack['entry']>[0];
type ExtractedEntry = tar.Extract extends AsyncIterable<infer E> ? E : never;

function byName(a: ArchiveEntry, b: ArchiveEntry): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Copies `source` into one archive entry and waits until the pack accepts it (tar-stream checks the size). */
async function writeEntry(pack: tar.Pack, header: HeaderArgument, source?: Readable): Promise<void> {
  let sink: ReturnType<tar.Pack['entry']> | undefined;
  const accepted = new Promise<void>((resolve, reject) => {
    const done = (err?: Error | null) => (err ? reject(err) : resolve());
    sink = source ? pack.entry(header, done) : pack.entry(header, EMPTY, done);
  });
  accepted.catch(() => undefined);
  if (source) await pipeline(source, sink as unknown as NodeJS.WritableStream);
  await accepted;
}

/** Entries sorted by path, each folder once and before the files in it (the layout SageMaker's tar of /opt/ml/model has). */
async function writeEntries(pack: tar.Pack, entries: ArchiveEntry[]): Promise<void> {
  const mtime = new Date();
  const folders = new Set<string>();
  for (const entry of [...entries].sort(byName)) {
    const segments = entry.name.split('/');
    for (let depth = 1; depth < segments.length; depth++) {
      const folder = `${segments.slice(0, depth).join('/')}/`;
      if (folders.has(folder)) continue;
      folders.add(folder);
      await writeEntry(pack, { name: folder, type: 'directory', mode: FOLDER_MODE, mtime });
    }
    await writeEntry(pack, { name: entry.name, size: entry.size, type: 'file', mode: FILE_MODE, mtime }, await entry.open());
  }
  pack.finalize();
}

/** A gzip-compressed tar of `entries`, produced as it is read; a failing entry fails the stream. */
export function packTarGz(entries: ArchiveEntry[]): Readable {
  const pack = tar.pack();
  const gzip = zlib.createGzip(ZLIB_OPTIONS);
  writeEntries(pack, entries).catch((err: Error) => pack.destroy(err));
  // An error anywhere destroys gzip with it, which is how the reader learns of it.
  pipeline(pack, gzip).catch(() => undefined);
  return gzip;
}

/** The files under `dir` as archive entries (relative paths), read from disk only when packed. */
export function directoryEntries(dir: string): ArchiveEntry[] {
  return fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => {
      const file = path.join(entry.parentPath, entry.name);
      return { name: path.relative(dir, file).split(path.sep).join('/'), size: fs.statSync(file).size, open: () => fs.createReadStream(file) };
    });
}

/** Packs a folder's files into `archiveFile` the way SageMaker tars /opt/ml/model. */
export async function packDirectoryToFile(dir: string, archiveFile: string): Promise<void> {
  await pipeline(packTarGz(directoryEntries(dir)), fs.createWriteStream(archiveFile));
}

async function isGzipFile(file: string): Promise<boolean> {
  const handle = await fs.promises.open(file, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(2), 0, 2, 0);
    return bytesRead === 2 && buffer[0] === GZIP_MAGIC[0] && buffer[1] === GZIP_MAGIC[1];
  } finally {
    await handle.close();
  }
}

/** An archive entry would be written outside the folder it is unpacked into (`../x`, `/etc/x`). */
export class UnsafeArchiveEntryError extends MlstackError {
  constructor(message: string) {
    super('INPUT_INVALID', message);
    this.name = 'UnsafeArchiveEntryError';
  }
}

/** The absolute path an entry would be written to; refuses one that would land outside `root`. */
function targetOf(root: string, name: string): string {
  const target = path.resolve(root, name);
  if (target !== root && !target.startsWith(root + path.sep)) throw new UnsafeArchiveEntryError(`tar entry "${name}" points outside ${root}`);
  return target;
}

/** Writes one entry under `root`; returns its relative path when it was a file. Links and devices have no place in a package: skipped. */
async function extractEntry(root: string, entry: ExtractedEntry): Promise<string | undefined> {
  const target = targetOf(root, entry.header.name);
  const type = entry.header.type;
  if (type === 'file' || type === 'contiguous-file') {
    await fs.promises.mkdir(path.dirname(target), { recursive: true });
    await pipeline(entry as unknown as NodeJS.ReadableStream, fs.createWriteStream(target));
    return path.relative(root, target);
  }
  if (type === 'directory') await fs.promises.mkdir(target, { recursive: true });
  entry.resume();
  return undefined;
}

/**
 * Unpacks a gzip-compressed (or plain) tar archive, a file or a buffer, into `dir`, streaming; returns the
 * relative paths of the files written. An entry that would land outside `dir` stops it with an error.
 */
export async function extractTarGz(archive: string | Buffer, dir: string): Promise<string[]> {
  const root = path.resolve(dir);
  const label = typeof archive === 'string' ? archive : 'the archive';
  const gzipped = typeof archive === 'string' ? await isGzipFile(archive) : archive[0] === GZIP_MAGIC[0] && archive[1] === GZIP_MAGIC[1];
  const source = typeof archive === 'string' ? fs.createReadStream(archive) : Readable.from([archive]);
  const extract = tar.extract();
  const feeding = gzipped ? pipeline(source, zlib.createGunzip(ZLIB_OPTIONS), extract) : pipeline(source, extract);
  // Its failure also ends the loop below (extract is destroyed with it); it is awaited there.
  feeding.catch(() => undefined);
  const written: string[] = [];
  try {
    for await (const entry of extract) {
      const file = await extractEntry(root, entry);
      if (file !== undefined) written.push(file);
    }
    await feeding;
  } catch (err) {
    source.destroy();
    if (err instanceof UnsafeArchiveEntryError) throw err;
    throw new Error(`cannot unpack ${label}: ${(err as Error).message}`);
  }
  return written;
}
