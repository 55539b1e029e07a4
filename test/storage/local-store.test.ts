import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { getJson, joinKey, ObjectExistsError, ObjectNotFoundError, putJson } from '../../runtime/storage/object-store';
import { openObjectUri, parseObjectUri } from '../../runtime/storage/open';
import { makeTempDir } from '../helpers/tmp';

describe('LocalObjectStore', () => {
  const dir = makeTempDir();
  const store = new LocalObjectStore(dir);

  it('round-trips buffers, strings, streams and JSON', async () => {
    await store.put('a/b/one.txt', 'hello');
    await store.put('a/two.bin', Buffer.from([1, 2, 3]));
    await store.put('a/b/three.txt', Readable.from(['x', 'y', 'z']));
    await putJson(store, 'meta.json', { n: 1 });
    expect((await store.get('a/b/one.txt')).toString()).toBe('hello');
    expect([...(await store.get('a/two.bin'))]).toEqual([1, 2, 3]);
    const chunks: Buffer[] = [];
    for await (const c of await store.stream('a/b/three.txt')) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('xyz');
    expect(await getJson(store, 'meta.json')).toEqual({ n: 1 });
  });

  it('lists by prefix in key order and reports existence', async () => {
    expect((await store.list('a/')).map((o) => o.key)).toEqual(['a/b/one.txt', 'a/b/three.txt', 'a/two.bin']);
    expect((await store.list('a/b/o')).map((o) => o.key)).toEqual(['a/b/one.txt']);
    expect(await store.exists('a/two.bin')).toBe(true);
    expect(await store.exists('a/b')).toBe(false);
    expect(await store.list('nothing/')).toEqual([]);
  });

  it('leaves the old object intact when a streamed write fails midway', async () => {
    await store.put('atomic.txt', 'old');
    const failing = new Readable({
      read() {
        this.push('partial');
        this.destroy(new Error('source broke'));
      },
    });
    await expect(store.put('atomic.txt', failing)).rejects.toThrow('source broke');
    expect((await store.get('atomic.txt')).toString()).toBe('old');
    expect(fs.readdirSync(dir).filter((f) => f.includes('tmp'))).toEqual([]);
  });

  it('refuses to overwrite with ifNotExists', async () => {
    await store.put('once.txt', '1', { ifNotExists: true });
    await expect(store.put('once.txt', '2', { ifNotExists: true })).rejects.toBeInstanceOf(ObjectExistsError);
    expect((await store.get('once.txt')).toString()).toBe('1');
  });

  it('raises ObjectNotFoundError with the URI, and deletes', async () => {
    await expect(store.get('missing.txt')).rejects.toBeInstanceOf(ObjectNotFoundError);
    await expect(store.stream('missing.txt')).rejects.toThrow(/object not found: file:\/\/.*missing\.txt/);
    await store.delete('once.txt');
    expect(await store.exists('once.txt')).toBe(false);
  });

  it('rejects keys that escape the root', async () => {
    await expect(store.put('../evil', 'x')).rejects.toThrow(/must be relative/);
    await expect(store.get('/etc/passwd')).rejects.toThrow(/must be relative/);
    expect(() => store.uri('')).toThrow(/1 to 1024/);
  });

  it('joins keys and parses URIs of every scheme', async () => {
    expect(joinKey('models/', '/v1/', 'model.json')).toBe('models/v1/model.json');
    expect(parseObjectUri('s3://bucket/data/raw/x.csv')).toEqual({ scheme: 's3', bucket: 'bucket', key: 'data/raw/x.csv' });
    expect(parseObjectUri('az://acct/container')).toEqual({ scheme: 'az', bucket: 'acct', key: 'container' });
    expect(() => parseObjectUri('ftp://host/x')).toThrow(/unsupported object URI/);
    const file = path.join(dir, 'a', 'two.bin');
    const loc = await openObjectUri(file);
    expect([...(await loc.store.get(loc.key))]).toEqual([1, 2, 3]);
    const viaUri = await openObjectUri(store.uri('a/two.bin'));
    expect(viaUri.key).toBe(loc.key);
  });
});
