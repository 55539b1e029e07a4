import { Storage, type Bucket } from '@google-cloud/storage';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { assertValidKey, ObjectExistsError, ObjectNotFoundError, type ObjectBody, type ObjectInfo, type ObjectStore, type PutOptions } from './object-store';

/**
 * The GCS client: Application Default Credentials; GCS_API_ENDPOINT (or the library's own
 * STORAGE_EMULATOR_HOST) points it at another server, e.g. a test double on loopback.
 */
export function defaultGcsClient(env: NodeJS.ProcessEnv = process.env): Storage {
  const apiEndpoint = env.GCS_API_ENDPOINT;
  return new Storage(apiEndpoint ? { apiEndpoint, projectId: env.GOOGLE_CLOUD_PROJECT ?? 'mlstack-local', useAuthWithCustomEndpoint: false } : {});
}

function codeOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

/**
 * A thin ObjectStore on a GCS bucket. Uploads are single requests (resumable: false; GCS makes an object
 * visible only when its upload completes, so puts are atomic); ifNotExists is ifGenerationMatch: 0.
 * Reads pin the generation they saw, so a stream never mixes two versions.
 */
export class GcsObjectStore implements ObjectStore {
  readonly root: string;
  readonly bucket: Bucket;
  private readonly prefix: string;

  constructor(
    readonly bucketName: string,
    prefix = '',
    storage: Storage = defaultGcsClient(),
  ) {
    this.bucket = storage.bucket(bucketName);
    this.prefix = prefix === '' ? '' : prefix.replace(/\/*$/, '/');
    this.root = `gs://${bucketName}/${this.prefix}`;
  }

  private file(key: string, generation?: number | string) {
    assertValidKey(key);
    return this.bucket.file(this.prefix + key, generation !== undefined ? { generation } : {});
  }

  uri(key: string): string {
    assertValidKey(key);
    return this.root + key;
  }

  async put(key: string, body: ObjectBody, options: PutOptions = {}): Promise<void> {
    const file = this.file(key);
    const writeOptions = {
      resumable: false,
      contentType: options.contentType,
      ...(options.ifNotExists ? { preconditionOpts: { ifGenerationMatch: 0 } } : {}),
    };
    try {
      if (body instanceof Readable) await pipeline(body, file.createWriteStream(writeOptions));
      else await file.save(typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body), writeOptions);
    } catch (err) {
      if (options.ifNotExists && codeOf(err) === 412) throw new ObjectExistsError(this.uri(key));
      throw err;
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      const [data] = await this.file(key).download();
      return data;
    } catch (err) {
      if (codeOf(err) === 404) throw new ObjectNotFoundError(this.uri(key));
      throw err;
    }
  }

  async stream(key: string): Promise<Readable> {
    let generation: string | number | undefined;
    try {
      const [metadata] = await this.file(key).getMetadata();
      generation = metadata.generation;
    } catch (err) {
      if (codeOf(err) === 404) throw new ObjectNotFoundError(this.uri(key));
      throw err;
    }
    return this.file(key, generation).createReadStream();
  }

  async exists(key: string): Promise<boolean> {
    const [found] = await this.file(key).exists();
    return found;
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const [files] = await this.bucket.getFiles({ prefix: this.prefix + prefix, autoPaginate: true });
    return files
      .map((f) => ({
        key: f.name.slice(this.prefix.length),
        size: Number(f.metadata.size ?? 0),
        lastModified: f.metadata.updated ? new Date(f.metadata.updated) : undefined,
      }))
      .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    await this.file(key).delete({ ignoreNotFound: true });
  }
}
