import { AzureBlobObjectStore, azureBlobServiceClient } from '../../runtime/storage/azure-blob-store';
import { openObjectUri } from '../../runtime/storage/open';
import { azuriteAvailable, startAzurite, type Azurite } from '../helpers/azurite';
import { describeStoreContract } from '../helpers/store-contract';

const available = azuriteAvailable();
if (!available) console.warn('SKIPPED: Azure Blob adapter tests (node_modules/.bin/azurite-blob not found)');

(available ? describe : describe.skip)('Azure Blob adapter against Azurite', () => {
  let azurite: Azurite;
  let store: AzureBlobObjectStore;
  const saved = process.env.AZURE_STORAGE_CONNECTION_STRING;
  beforeAll(async () => {
    azurite = await startAzurite();
    process.env.AZURE_STORAGE_CONNECTION_STRING = azurite.connectionString;
    store = new AzureBlobObjectStore(azurite.account, 'contract', 'pre/fix');
    await store.ensureContainer();
  });
  afterAll(async () => {
    if (saved === undefined) delete process.env.AZURE_STORAGE_CONNECTION_STRING;
    else process.env.AZURE_STORAGE_CONNECTION_STRING = saved;
    await azurite?.stop();
  });

  describeStoreContract('Azure Blob', () => store, { bigBytes: 9 * 1024 * 1024 + 17, uriPrefix: /^az:\/\/devstoreaccount1\/contract\/pre\/fix\/c\/a\.bin$/ });

  it('opens az://account/container/key URIs', async () => {
    await store.put('via/uri.txt', 'hello');
    const { store: opened, key } = await openObjectUri('az://devstoreaccount1/contract/pre/fix/via/uri.txt');
    expect(key).toBe('pre/fix/via/uri.txt');
    expect((await opened.get(key)).toString()).toBe('hello');
  });

  it('explains which credentials it needs when none are set', () => {
    expect(() => azureBlobServiceClient('acct', {})).toThrow(/set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_KEY, or AZURE_STORAGE_SAS_TOKEN, or AZURE_CLIENT_ID/);
    expect(azureBlobServiceClient('acct', { AZURE_STORAGE_SAS_TOKEN: '?sv=1&sig=x' }).url).toBe('https://acct.blob.core.windows.net/?sv=1&sig=x');
    expect(azureBlobServiceClient('acct', { AZURE_STORAGE_KEY: Buffer.from('k').toString('base64'), AZURE_STORAGE_BLOB_ENDPOINT: 'http://127.0.0.1:1/acct' }).url).toBe('http://127.0.0.1:1/acct');
    // A managed identity (what the azure-<env> Container Apps get) authenticates with Entra ID tokens, not a secret.
    const viaIdentity = azureBlobServiceClient('acct', { AZURE_CLIENT_ID: '00000000-0000-0000-0000-000000000001' });
    expect(viaIdentity.url).toBe('https://acct.blob.core.windows.net/');
    expect(viaIdentity.credential.constructor.name).toBe('DefaultAzureCredential');
  });
});
