import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import * as tar from 'tar-stream';
import { extractTarGz, packDirectoryToFile, packTarGz, type ArchiveEntry } from '../../runtime/model/archive';
import { makeTempDir } from '../helpers/tmp';

const DEEP = path.join('a'.repeat(60), 'b'.repeat(60));

/** Headers of a (gzip-compressed) archive, in order, read with tar-stream itself. */
async function headersOf(archive: Buffer): Promise<Pick<tar.Header, 'name' | 'type' | 'size'>[]> {
  const extract = tar.extract();
  const feeding = pipeline(Readable.from([zlib.gunzipSync(archive)]), extract);
  const headers: Pick<tar.Header, 'name' | 'type' | 'size'>[] = [];
  for await (const entry of extract) {
    headers.push({ name: entry.header.name, type: entry.header.type, size: entry.header.size });
    entry.resume();
  }
  await feeding;
  return headers;
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A plain tar whose entries are exactly `headers` (what a hostile or odd archive may hold). */
async function rawTar(entries: { header: Parameters<tar.Pack['entry']>[0]; body?: string }[]): Promise<Buffer> {
  const pack = tar.pack();
  for (const { header, body } of entries) pack.entry(header, body ?? '');
  pack.finalize();
  return collect(Readable.from(pack as unknown as AsyncIterable<Buffer>));
}

function packageDir(): string {
  const src = makeTempDir('mlstack-archive-src-');
  fs.mkdirSync(path.join(src, 'model', DEEP), { recursive: true });
  fs.writeFileSync(path.join(src, 'metadata.json'), '{"run_id":"r"}');
  fs.writeFileSync(path.join(src, 'model', 'weights.bin'), Buffer.alloc(1500, 7));
  fs.writeFileSync(path.join(src, 'model', DEEP, 'long.bin'), Buffer.alloc(10, 1));
  return src;
}

describe('model archive (model.tar.gz)', () => {
  it('GIVEN a package folder WHEN packed THEN folders precede their files, paths are sorted, and long paths survive the round trip', async () => {
    const archive = path.join(makeTempDir(), 'model.tar.gz');
    await packDirectoryToFile(packageDir(), archive);
    const headers = await headersOf(fs.readFileSync(archive));
    expect(headers.map((h) => `${h.type} ${h.name}`)).toEqual([
      'file metadata.json',
      'directory model/',
      `directory model/${'a'.repeat(60)}/`,
      `directory model/${DEEP}/`,
      `file model/${DEEP}/long.bin`,
      'file model/weights.bin',
    ]);
    const out = makeTempDir('mlstack-archive-out-');
    expect(await extractTarGz(archive, out)).toEqual(['metadata.json', path.join('model', DEEP, 'long.bin'), path.join('model', 'weights.bin')]);
    expect(fs.readFileSync(path.join(out, 'model', 'weights.bin'))).toEqual(Buffer.alloc(1500, 7));
    expect(fs.readFileSync(path.join(out, 'model', DEEP, 'long.bin'))).toEqual(Buffer.alloc(10, 1));
  });

  (spawnSync('tar', ['--version']).status === 0 ? it : it.skip)('reads what the system tar writes (SageMaker tars /opt/ml/model with it: GNU long names, ./ prefixes)', async () => {
    const archive = path.join(makeTempDir(), 'model.tar.gz');
    expect(spawnSync('tar', ['-czf', archive, '-C', packageDir(), '.']).status).toBe(0);
    const out = makeTempDir('mlstack-archive-out-');
    expect((await extractTarGz(archive, out)).sort()).toEqual(['metadata.json', path.join('model', DEEP, 'long.bin'), path.join('model', 'weights.bin')]);
    expect(fs.readFileSync(path.join(out, 'metadata.json'), 'utf8')).toBe('{"run_id":"r"}');
  });

  it('GIVEN entries that climb out of the target WHEN unpacked THEN refuses them and writes nothing outside', async () => {
    const parent = makeTempDir('mlstack-archive-parent-');
    const target = path.join(parent, 'target');
    for (const name of ['../escape', 'ok/../../escape', path.join(parent, 'absolute')]) {
      const archive = await rawTar([{ header: { name: 'fine.txt' }, body: 'ok' }, { header: { name }, body: 'evil' }]);
      const when = () => extractTarGz(archive, target);
      await expect(when()).rejects.toThrow(`tar entry "${name}" points outside ${target}`);
    }
    expect(fs.readdirSync(parent)).toEqual(['target']);
    expect(fs.readdirSync(target)).toEqual(['fine.txt']);
  });

  it('GIVEN links and devices WHEN unpacked THEN skips them: a package holds files and folders only', async () => {
    const archive = await rawTar([
      { header: { name: 'dir/', type: 'directory' } },
      { header: { name: 'dir/link', type: 'symlink', linkname: '/etc/passwd' } },
      { header: { name: 'dir/hard', type: 'link', linkname: 'dir/file' } },
      { header: { name: 'dir/file' }, body: 'x' },
    ]);
    const out = makeTempDir();
    expect(await extractTarGz(zlib.gzipSync(archive), out)).toEqual([path.join('dir', 'file')]);
    expect(fs.readdirSync(path.join(out, 'dir'))).toEqual(['file']);
  });

  it('GIVEN a truncated or corrupt archive WHEN unpacked THEN the error names it', async () => {
    const archive = path.join(makeTempDir(), 'model.tar.gz');
    await packDirectoryToFile(packageDir(), archive);
    const truncated = path.join(makeTempDir(), 'truncated.tar.gz');
    fs.writeFileSync(truncated, fs.readFileSync(archive).subarray(0, 200));
    await expect(extractTarGz(truncated, makeTempDir())).rejects.toThrow(`cannot unpack ${truncated}: `);
    await expect(extractTarGz(Buffer.from('not an archive'.repeat(64)), makeTempDir())).rejects.toThrow(/cannot unpack the archive: Invalid tar header/);
  });

  it('GIVEN an entry whose bytes fail or fall short of its size WHEN packed THEN the archive stream fails with that error', async () => {
    const failing: ArchiveEntry = { name: 'weights.bin', size: 4, open: () => Readable.from((async function* () { yield Buffer.from('ab'); throw new Error('store read failed'); })()) };
    await expect(pipeline(packTarGz([failing]), new PassThrough().resume())).rejects.toThrow('store read failed');
    const short: ArchiveEntry = { name: 'weights.bin', size: 10, open: () => Readable.from([Buffer.from('abc')]) };
    await expect(pipeline(packTarGz([short]), new PassThrough().resume())).rejects.toThrow();
  });

  it('packs entries as they are read: the next entry is opened only once the archive has been read past the one before', async () => {
    const opened: string[] = [];
    const entry = (name: string): ArchiveEntry => ({ name, size: 1 << 20, open: () => (opened.push(name), Readable.from(Array.from({ length: 64 }, () => randomBytes(1 << 14)))) });
    const archive = packTarGz([entry('b'), entry('a')]);
    const chunks: Buffer[] = [];
    let openedAtFirstChunk: string[] | undefined;
    for await (const chunk of archive) {
      openedAtFirstChunk ??= [...opened];
      chunks.push(chunk as Buffer);
    }
    expect(openedAtFirstChunk).toEqual(['a']);
    expect(opened).toEqual(['a', 'b']);
    expect((await headersOf(Buffer.concat(chunks))).map((h) => `${h.name} ${h.size}`)).toEqual([`a ${1 << 20}`, `b ${1 << 20}`]);
  });
});
