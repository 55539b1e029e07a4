import { DefaultAzureCredential } from '@azure/identity';
import { BlobServiceClient, StorageSharedKeyCredential, type ContainerClient } from '@azure/storage-blob';
import { Readable } from 'node:stream';
import { assertValidKey, ObjectExistsError, ObjectNotFoundError, type ObjectBody, type ObjectInfo, type ObjectStore, type PutOptions } from './object-store';
import { CloudCallError } from '../common/errors';

/** Blocks of 4 MiB, two in flight, for streamed uploads: memory stays flat for any size. */
const BLOCK_SIZE = 4 * 1024 * 1024;
const CONCURRENCY = 2;

/**
 * The Blob service client for a storage account, from the first of:
 *   AZURE_STORAGE_CONNECTION_STRING (Azurite or any account; the account in the URI is then informational),
 *   AZURE_STORAGE_KEY (shared key for `account`),
 *   AZURE_STORAGE_SAS_TOKEN (a SAS for `account`),
 *   AZURE_CLIENT_ID (a managed or workload identity, as the Container Apps of the azure-<env> stacks get:
 *   Entra ID through DefaultAzureCredential, no secret in the app).
 * AZURE_STORAGE_BLOB_ENDPOINT overrides https://<account>.blob.core.windows.net for the last three.
 */
export function azureBlobServiceClient(account: string, env: NodeJS.ProcessEnv = process.env): BlobServiceClient {
  if (env.AZURE_STORAGE_CONNECTION_STRING) return BlobServiceClient.fromConnectionString(env.AZURE_STORAGE_CONNECTION_STRING);
  const endpoint = env.AZURE_STORAGE_BLOB_ENDPOINT ?? `https://${account}.blob.core.windows.net`;
  if (env.AZURE_STORAGE_KEY) return new BlobServiceClient(endpoint, new StorageSharedKeyCredential(account, env.AZURE_STORAGE_KEY));
  if (env.AZURE_STORAGE_SAS_TOKEN) return new BlobServiceClient(`${endpoint}?${env.AZURE_STORAGE_SAS_TOKEN.replace(/^\?/, '')}`);
  if (env.AZURE_CLIENT_ID) {
    return new BlobServiceClient(endpoint, new DefaultAzureCredential({ managedIdentityClientId: env.AZURE_CLIENT_ID }));
  }
  throw new CloudCallError(
    `no credentials for Azure storage account "${account}": set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_KEY, or AZURE_STORAGE_SAS_TOKEN, or AZURE_CLIENT_ID (managed identity)`,
  );
}

function statusOf(err: unknown): number | undefined {
  return (err as { statusCode?: number }).statusCode;
}

/**
 * An ObjectStore on an Azure Blob container (az://account/container/key). Block blobs become visible
 * only when their block list is committed, so every put is atomic; ifNotExists sends If-None-Match: *.
 */
export class AzureBlobObjectStore implements ObjectStore {
  readonly root: string;
  readonly container: ContainerClient;
  private readonly prefix: string;

  constructor(
    readonly account: string,
    readonly containerName: string,
    prefix = '',
    service: BlobServiceClient = azureBlobServiceClient(account),
  ) {
    this.container = service.getContainerClient(containerName);
    this.prefix = prefix === '' ? '' : prefix.replace(/\/*$/, '/');
    this.root = `az://${account}/${containerName}/${this.prefix}`;
  }

  /** Creates the container when missing (local emulators; cloud containers come from infra/). */
  async ensureContainer(): Promise<void> {
    await this.container.createIfNotExists();
  }

  private blob(key: string) {
    assertValidKey(key);
    return this.container.getBlockBlobClient(this.prefix + key);
  }

  uri(key: string): string {
    assertValidKey(key);
    return this.root + key;
  }

  async put(key: string, body: ObjectBody, options: PutOptions = {}): Promise<void> {
    const blob = this.blob(key);
    const common = {
      blobHTTPHeaders: options.contentType ? { blobContentType: options.contentType } : undefined,
      conditions: options.ifNotExists ? { ifNoneMatch: '*' } : undefined,
    };
    try {
      if (body instanceof Readable) {
        await blob.uploadStream(body, BLOCK_SIZE, CONCURRENCY, common);
      } else {
        const data = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
        await blob.upload(data, data.byteLength, common);
      }
    } catch (err) {
      if (options.ifNotExists && (statusOf(err) === 409 || statusOf(err) === 412)) throw new ObjectExistsError(this.uri(key));
      throw err;
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await this.blob(key).downloadToBuffer();
    } catch (err) {
      if (statusOf(err) === 404) throw new ObjectNotFoundError(this.uri(key));
      throw err;
    }
  }

  async stream(key: string): Promise<Readable> {
    try {
      const response = await this.blob(key).download();
      const body = response.readableStreamBody;
      if (!body) throw new CloudCallError(`${this.uri(key)}: the download returned no body`);
      return body instanceof Readable ? body : Readable.from(body as AsyncIterable<Buffer>);
    } catch (err) {
      if (statusOf(err) === 404) throw new ObjectNotFoundError(this.uri(key));
      throw err;
    }
  }

  exists(key: string): Promise<boolean> {
    return this.blob(key).exists();
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    for await (const item of this.container.listBlobsFlat({ prefix: this.prefix + prefix })) {
      out.push({ key: item.name.slice(this.prefix.length), size: item.properties.contentLength ?? 0, lastModified: item.properties.lastModified });
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    await this.blob(key).deleteIfExists();
  }
}
