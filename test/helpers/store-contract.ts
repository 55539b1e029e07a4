import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { ObjectExistsError, ObjectNotFoundError, type ObjectStore } from '../../runtime/storage/object-store';

/** A deterministic pseudo-random body of `bytes` bytes, streamed in 1 MiB chunks. */
export function bigBody(bytes: number): { stream: () => Readable; sha256: string } {
  const chunk = (i: number) => {
    const size = Math.min(1 << 20, bytes - i * (1 << 20));
    const buf = Buffer.alloc(size);
    for (let j = 0; j < size; j += 1) buf[j] = (i * 131 + j * 7 + (j >>> 9)) & 0xff;
    return buf;
  };
  const count = Math.ceil(bytes / (1 << 20));
  const hash = createHash('sha256');
  for (let i = 0; i < count; i += 1) hash.update(chunk(i));
  return {
    sha256: hash.digest('hex'),
    stream: () => Readable.from((function* () { for (let i = 0; i < count; i += 1) yield chunk(i); })()),
  };
}

async function sha256Of(stream: Readable): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The behaviour every ObjectStore adapter must share (the local store's tests pin the same rules). */
export function describeStoreContract(name: string, open: () => ObjectStore, options: { bigBytes: number; uriPrefix: RegExp }): void {
  describe(`${name} ObjectStore contract`, () => {
    it('puts, gets, lists, checks and deletes objects', async () => {
      const store = open();
      await store.put('c/b.txt', 'bee', { contentType: 'text/plain' });
      await store.put('c/a.bin', Buffer.from([1, 2, 3]));
      await store.put('d/x.txt', new Uint8Array([65]));
      expect((await store.get('c/b.txt')).toString()).toBe('bee');
      expect(await store.exists('c/a.bin')).toBe(true);
      expect(await store.exists('c/none')).toBe(false);
      expect((await store.list('c/')).map((o) => [o.key, o.size])).toEqual([
        ['c/a.bin', 3],
        ['c/b.txt', 3],
      ]);
      await store.put('c/b.txt', 'overwritten');
      expect((await store.get('c/b.txt')).toString()).toBe('overwritten');
      await store.delete('c/b.txt');
      await store.delete('c/never-existed');
      expect(await store.exists('c/b.txt')).toBe(false);
      expect(store.uri('c/a.bin')).toMatch(options.uriPrefix);
    });

    it('streams a large body in and out (multipart / blocks) without changing a byte', async () => {
      const store = open();
      const body = bigBody(options.bigBytes);
      await store.put('big/blob.bin', body.stream(), { contentType: 'application/octet-stream' });
      expect(await sha256Of(await store.stream('big/blob.bin'))).toBe(body.sha256);
      expect((await store.list('big/'))[0].size).toBe(options.bigBytes);
    });

    it('refuses to overwrite with ifNotExists and keeps the first object', async () => {
      const store = open();
      await store.put('once/marker.json', '{"first":true}', { ifNotExists: true });
      await expect(store.put('once/marker.json', '{"first":false}', { ifNotExists: true })).rejects.toBeInstanceOf(ObjectExistsError);
      expect((await store.get('once/marker.json')).toString()).toBe('{"first":true}');
    });

    it('reports a missing object as ObjectNotFoundError naming its URI', async () => {
      const store = open();
      await expect(store.get('missing/a')).rejects.toBeInstanceOf(ObjectNotFoundError);
      await expect(store.stream('missing/b')).rejects.toThrow(/object not found: .*missing\/b/);
    });
  });
}
