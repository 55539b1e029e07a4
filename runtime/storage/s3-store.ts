import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import { assertValidKey, ObjectExistsError, ObjectNotFoundError, type ObjectBody, type ObjectInfo, type ObjectStore, type PutOptions } from './object-store';

/** Parts of 8 MiB, two in flight: a streamed upload holds about 16 MiB whatever the object size. */
const PART_SIZE = 8 * 1024 * 1024;
const QUEUE_SIZE = 2;

/**
 * The S3 client the runtime uses: region from AWS_REGION (us-east-1), credentials from the default chain,
 * and AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL (an S3-compatible server such as moto) with path-style addressing.
 */
export function defaultS3Client(env: NodeJS.ProcessEnv = process.env): S3Client {
  const endpoint = env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  const config: S3ClientConfig = { region: env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1' };
  if (endpoint) {
    config.endpoint = endpoint;
    config.forcePathStyle = true;
  }
  return new S3Client(config);
}

function errorName(err: unknown): string {
  return (err as { name?: string }).name ?? '';
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
}

/**
 * An ObjectStore on an S3 bucket (optionally under a key prefix). Single puts and completed multipart
 * uploads are atomic in S3; ifNotExists uses a conditional write (If-None-Match: *).
 */
export class S3ObjectStore implements ObjectStore {
  readonly root: string;
  private readonly prefix: string;

  constructor(
    readonly bucket: string,
    prefix = '',
    readonly client: S3Client = defaultS3Client(),
  ) {
    this.prefix = prefix === '' ? '' : prefix.replace(/\/*$/, '/');
    this.root = `s3://${bucket}/${this.prefix}`;
  }

  private keyOf(key: string): string {
    assertValidKey(key);
    return this.prefix + key;
  }

  uri(key: string): string {
    return `s3://${this.bucket}/${this.keyOf(key)}`;
  }

  async put(key: string, body: ObjectBody, options: PutOptions = {}): Promise<void> {
    const Key = this.keyOf(key);
    const conditional = options.ifNotExists ? { IfNoneMatch: '*' } : {};
    try {
      if (body instanceof Readable && !options.ifNotExists) {
        // lib-storage sends one PutObject for small bodies and a multipart upload (aborted on failure) for large ones.
        const upload = new Upload({
          client: this.client,
          params: { Bucket: this.bucket, Key, Body: body, ContentType: options.contentType },
          partSize: PART_SIZE,
          queueSize: QUEUE_SIZE,
          leavePartsOnError: false,
        });
        await upload.done();
        return;
      }
      const data = body instanceof Readable ? await collect(body) : typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
      await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: data, ContentType: options.contentType, ...conditional }));
    } catch (err) {
      if (options.ifNotExists && (statusOf(err) === 412 || errorName(err) === 'PreconditionFailed')) throw new ObjectExistsError(this.uri(key));
      throw err;
    }
  }

  async get(key: string): Promise<Buffer> {
    const stream = await this.stream(key);
    return collect(stream);
  }

  async stream(key: string): Promise<Readable> {
    try {
      const result = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) }));
      return result.Body as Readable;
    } catch (err) {
      if (errorName(err) === 'NoSuchKey' || statusOf(err) === 404) throw new ObjectNotFoundError(this.uri(key));
      throw err;
    }
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) }));
      return true;
    } catch (err) {
      if (errorName(err) === 'NotFound' || statusOf(err) === 404) return false;
      throw err;
    }
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix + prefix, ContinuationToken: token }),
      );
      for (const item of page.Contents ?? []) {
        if (item.Key === undefined) continue;
        out.push({ key: item.Key.slice(this.prefix.length), size: item.Size ?? 0, lastModified: item.LastModified });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) }));
  }
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}
