import { defaultGcsClient, GcsObjectStore } from '../../runtime/storage/gcs-store';
import { openObjectUri } from '../../runtime/storage/open';
import { startFakeGcs, type FakeGcs } from '../helpers/gcs-server';
import { describeStoreContract } from '../helpers/store-contract';

// GCS has no emulator installable here: these tests run the real @google-cloud/storage client against
// test/helpers/gcs-server.ts, a thin loopback double of the JSON-API calls the adapter makes.
describe('GCS adapter against a loopback JSON-API double', () => {
  let gcs: FakeGcs;
  let store: GcsObjectStore;
  beforeAll(async () => {
    gcs = await startFakeGcs(2);
    process.env.GCS_API_ENDPOINT = gcs.endpoint;
    store = new GcsObjectStore('mlstack-contract', 'pre/fix');
  });
  afterAll(async () => {
    delete process.env.GCS_API_ENDPOINT;
    await gcs?.close();
  });

  describeStoreContract('GCS', () => store, { bigBytes: 3 * 1024 * 1024 + 3, uriPrefix: /^gs:\/\/mlstack-contract\/pre\/fix\/c\/a\.bin$/ });

  it('lists across pages and opens gs:// URIs', async () => {
    for (const name of ['p/1', 'p/2', 'p/3', 'p/4', 'p/5']) await store.put(name, name);
    expect((await store.list('p/')).map((o) => o.key)).toEqual(['p/1', 'p/2', 'p/3', 'p/4', 'p/5']);
    const { store: opened, key } = await openObjectUri('gs://mlstack-contract/pre/fix/p/3');
    expect((await opened.get(key)).toString()).toBe('p/3');
    expect(gcs.calls.some((c) => c.startsWith('GET /storage/v1/b/mlstack-contract/o') && !c.includes('/o/'))).toBe(true);
  });

  it('uses application default credentials unless an endpoint is set', () => {
    expect(defaultGcsClient({ GCS_API_ENDPOINT: 'http://127.0.0.1:9' }).apiEndpoint).toBe('http://127.0.0.1:9');
    expect(defaultGcsClient({}).apiEndpoint).toBe('https://storage.googleapis.com');
  });
});
