import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { defaultS3Client, S3ObjectStore } from '../../runtime/storage/s3-store';
import { openObjectUri } from '../../runtime/storage/open';
import { motoAvailable, startMoto, type MotoServer } from '../helpers/moto';
import { describeStoreContract } from '../helpers/store-contract';

const available = motoAvailable();
if (!available) console.warn('SKIPPED: S3 adapter tests (moto_server not on PATH)');

(available ? describe : describe.skip)('S3 adapter against moto_server', () => {
  let moto: MotoServer;
  let store: S3ObjectStore;
  beforeAll(async () => {
    moto = await startMoto();
    process.env.AWS_ENDPOINT_URL_S3 = moto.endpoint;
    const client = defaultS3Client();
    await client.send(new CreateBucketCommand({ Bucket: 'mlstack-contract' }));
    store = new S3ObjectStore('mlstack-contract', 'pre/fix', client);
  });
  afterAll(async () => {
    delete process.env.AWS_ENDPOINT_URL_S3;
    await moto?.stop();
  });

  // 17 MiB + a little: three multipart parts of 8 MiB.
  describeStoreContract('S3', () => store, { bigBytes: 17 * 1024 * 1024 + 5, uriPrefix: /^s3:\/\/mlstack-contract\/pre\/fix\/c\/a\.bin$/ });

  it('opens s3:// URIs through openObjectUri with the endpoint from the environment', async () => {
    await store.put('via/uri.txt', 'hello');
    const { store: opened, key } = await openObjectUri('s3://mlstack-contract/pre/fix/via/uri.txt');
    expect((await opened.get(key)).toString()).toBe('hello');
    expect(opened.root).toBe('s3://mlstack-contract/');
  });

  it('uses path-style addressing only with a custom endpoint', async () => {
    expect(await defaultS3Client({ AWS_ENDPOINT_URL: 'http://127.0.0.1:9' }).config.forcePathStyle).toBe(true);
    expect(await defaultS3Client({ AWS_REGION: 'eu-west-1' }).config.region()).toBe('eu-west-1');
  });
});
