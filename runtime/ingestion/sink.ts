import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import type { ObjectStore } from '../storage/object-store';

const FLUSH_BYTES = 256 * 1024;

/**
 * Streams text into one object through the store's atomic put: the object appears whole when
 * `end()` resolves, or not at all after `abort()`. Small writes are batched; backpressure from
 * the store pauses the writer, so memory stays flat whatever the size.
 */
export class ObjectWriter {
  private readonly stream = new PassThrough({ highWaterMark: 1024 * 1024 });
  private readonly done: Promise<void>;
  private buffer = '';
  /** Bytes appended as they are (raw parts, encoded once for their hash and the store), waiting for flush(). */
  private chunks: Buffer[] = [];
  private failure?: Error;
  bytes = 0;

  constructor(
    readonly store: ObjectStore,
    readonly key: string,
    contentType: string,
  ) {
    // The store attaches its own listeners later (after e.g. mkdir); until then an abort must not be an unhandled 'error'.
    this.stream.on('error', () => undefined);
    this.done = store.put(key, this.stream, { contentType });
    this.done.catch((err: Error) => {
      this.failure = err;
    });
  }

  /** Buffers text; call flush() now and then (the run does after every page) to apply backpressure. */
  append(text: string): void {
    this.buffer += text;
  }

  /** Appends bytes already encoded; written, in order with the text, at the next flush(). */
  appendBytes(bytes: Buffer): void {
    if (this.buffer.length > 0) {
      this.chunks.push(Buffer.from(this.buffer, 'utf8'));
      this.buffer = '';
    }
    this.chunks.push(bytes);
  }

  async write(text: string): Promise<void> {
    this.buffer += text;
    if (this.buffer.length >= FLUSH_BYTES) await this.flush();
  }

  /** Hands buffered text to the store, waiting while the store is behind. */
  async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.buffer.length > 0) {
      this.chunks.push(Buffer.from(this.buffer, 'utf8'));
      this.buffer = '';
    }
    if (this.chunks.length === 0) return;
    const chunks = this.chunks;
    this.chunks = [];
    let drained = true;
    for (const chunk of chunks) {
      this.bytes += chunk.length;
      drained = this.stream.write(chunk);
    }
    if (!drained) {
      await Promise.race([once(this.stream, 'drain'), this.done]);
      if (this.failure) throw this.failure;
    }
  }

  async end(): Promise<void> {
    await this.flush();
    this.stream.end();
    await this.done;
  }

  /** Drops the object: the store's put fails and leaves nothing behind. */
  async abort(reason: Error = new Error('ingestion aborted')): Promise<void> {
    this.stream.destroy(reason);
    await this.done.catch(() => undefined);
  }
}
