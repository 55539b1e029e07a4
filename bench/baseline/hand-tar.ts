/**
 * The hand-written tar reader and writer runtime/training/tar.ts used to be, kept unchanged as bench/tar.ts's
 * baseline (the runtime now uses runtime/model/archive.ts: tar-stream, streaming). It holds whole archives in
 * memory: regular files and folders, ustar names with prefix, GNU long names (type "L") and pax "path" records.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as zlib from 'node:zlib';

const BLOCK = 512;

function readString(buf: Buffer, offset: number, length: number): string {
  const end = buf.indexOf(0, offset);
  return buf.toString('utf8', offset, end >= 0 && end < offset + length ? end : offset + length);
}

function readOctal(buf: Buffer, offset: number, length: number): number {
  // Sizes over 8 GiB use base-256 (high bit set); model packages never get there.
  if (buf[offset] & 0x80) throw new Error('tar entry larger than 8 GiB (base-256 size) is not supported');
  const text = readString(buf, offset, length).trim();
  return text === '' ? 0 : parseInt(text, 8);
}

function paxPath(body: Buffer): string | undefined {
  // Records are "<len> key=value\n".
  for (const line of body.toString('utf8').split('\n')) {
    const match = /^\d+ path=(.*)$/.exec(line);
    if (match) return match[1];
  }
  return undefined;
}

/** Unpacks a gzip-compressed (or plain) tar archive into `dir`; returns the relative paths of the files written. */
export function extractTarGz(archive: Buffer, dir: string): string[] {
  const tar = archive[0] === 0x1f && archive[1] === 0x8b ? zlib.gunzipSync(archive) : archive;
  const root = path.resolve(dir);
  const written: string[] = [];
  let longName: string | undefined;
  let offset = 0;
  while (offset + BLOCK <= tar.length) {
    const header = tar.subarray(offset, offset + BLOCK);
    if (header.every((b) => b === 0)) break;
    const size = readOctal(header, 124, 12);
    const type = String.fromCharCode(header[156] || 0x30);
    const prefix = readString(header, 345, 155);
    const base = readString(header, 0, 100);
    const body = tar.subarray(offset + BLOCK, offset + BLOCK + size);
    if (body.length < size) throw new Error(`truncated tar archive: entry "${base}" needs ${size} bytes, ${body.length} left`);
    offset += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
    if (type === 'L') {
      longName = readString(body, 0, body.length);
      continue;
    }
    if (type === 'x') {
      longName = paxPath(body) ?? longName;
      continue;
    }
    if (type === 'g') continue;
    const name = longName ?? (prefix ? `${prefix}/${base}` : base);
    longName = undefined;
    const target = path.resolve(root, name);
    if (target !== root && !target.startsWith(root + path.sep)) throw new Error(`tar entry "${name}" points outside ${root}`);
    if (type === '5') {
      fs.mkdirSync(target, { recursive: true });
    } else if (type === '0' || type === '7') {
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, body);
      written.push(path.relative(root, target));
    }
    // Links and devices have no place in a model package: skipped.
  }
  return written;
}

function writeOctal(buf: Buffer, offset: number, length: number, value: number): void {
  buf.write(value.toString(8).padStart(length - 1, '0'), offset, length - 1, 'ascii');
}

function headerFor(name: string, size: number, type: '0' | '5' | 'L', mtime: number): Buffer {
  const header = Buffer.alloc(BLOCK);
  header.write(name.slice(0, 100), 0, 100, 'utf8');
  writeOctal(header, 100, 8, type === '5' ? 0o755 : 0o644);
  writeOctal(header, 108, 8, 0);
  writeOctal(header, 116, 8, 0);
  writeOctal(header, 124, 12, size);
  writeOctal(header, 136, 12, mtime);
  header.fill(0x20, 148, 156);
  header.write(type, 156, 1, 'ascii');
  header.write('ustar\u000000', 257, 8, 'ascii');
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'ascii');
  return header;
}

function padded(body: Buffer): Buffer[] {
  const rest = body.length % BLOCK;
  return rest === 0 ? [body] : [body, Buffer.alloc(BLOCK - rest)];
}

/** One file of an archive: its relative path (forward slashes) and bytes. */
export interface TarFile {
  name: string;
  body: Buffer;
}

/**
 * Packs files as a gzip-compressed tar, sorted by path, each folder entry before the files in it
 * (the layout SageMaker's tar of /opt/ml/model has).
 */
export function packFilesTarGz(files: TarFile[]): Buffer {
  const parts: Buffer[] = [];
  const mtime = Math.floor(Date.now() / 1000);
  const add = (name: string, type: '0' | '5', body: Buffer): void => {
    if (Buffer.byteLength(name) > 100) {
      const long = Buffer.from(`${name}\u0000`);
      parts.push(headerFor('././@LongLink', long.length, 'L', mtime), ...padded(long));
    }
    parts.push(headerFor(name, body.length, type, mtime), ...padded(body));
  };
  const folders = new Set<string>();
  for (const file of [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const segments = file.name.split('/');
    for (let depth = 1; depth < segments.length; depth++) {
      const folder = `${segments.slice(0, depth).join('/')}/`;
      if (folders.has(folder)) continue;
      folders.add(folder);
      add(folder, '5', Buffer.alloc(0));
    }
    add(file.name, '0', file.body);
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return zlib.gzipSync(Buffer.concat(parts));
}

/** Packs a folder's files (relative paths) as a gzip-compressed tar, the way SageMaker tars /opt/ml/model. */
export function packDirectoryTarGz(dir: string): Buffer {
  const files: TarFile[] = [];
  const walk = (rel: string): void => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const name = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(name);
      else if (entry.isFile()) files.push({ name, body: fs.readFileSync(path.join(dir, name)) });
    }
  };
  walk('');
  return packFilesTarGz(files);
}
