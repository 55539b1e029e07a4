/**
 * GCP: the ingestion entrypoint, started with the variables the gcp stack sets (ingestionLaunch with a
 * cloud-run-job trigger), writes a run into a bucket (the GCS loopback server) and then runs the Cloud Run
 * training job through the Admin API, authenticated by a token from the metadata server (both doubles).
 */
import { Writable } from 'node:stream';
import { loadProjectConfig } from '../../config/load';
import { ENV, ingestionLaunch } from '../../runtime/contract/env';
import { processedRunPrefix, storagePaths, SUCCESS_MARKER } from '../../runtime/contract/layout';
import { main } from '../../runtime/ingestion/entrypoint';
import { startSampleApi, type SampleApi } from '../../runtime/ingestion/sample-api';
import { GcsObjectStore } from '../../runtime/storage/gcs-store';
import { startFakeGcs, type FakeGcs } from '../helpers/gcs-server';
import { copyConfig } from '../helpers/tmp';
import { METADATA_TOKEN_PATH, startCloudRunDouble, startMetadataDouble, type Override } from './doubles';

const JOB = 'projects/mlstack-dev/locations/us-central1/jobs/mlstack-dev-training';
const ACCESS_TOKEN = 'ya29.test-access-token';

/** A run's processed folder in the bucket: `<processed><project>/<run>/` in the repo config's dev layout on gcp. */
function processedPrefix(runId: string): string {
  const config = loadProjectConfig(copyConfig());
  return processedRunPrefix(storagePaths(config.environments.dev, 'gcp', config.pipeline.project), runId);
}

function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  return { stream: new Writable({ write: (c, _e, cb) => (chunks.push(String(c)), cb()) }), text: () => chunks.join('') };
}

let gcs: FakeGcs;
let metadata: Awaited<ReturnType<typeof startMetadataDouble>>;
let cloudRun: Awaited<ReturnType<typeof startCloudRunDouble>>;
let override: Override | undefined;
const saved: Record<string, string | undefined> = {};
const PROCESS_VARIABLES = ['GCS_API_ENDPOINT', 'GOOGLE_CLOUD_PROJECT', 'GCE_METADATA_HOST', 'METADATA_SERVER_DETECTION', 'GOOGLE_APPLICATION_CREDENTIALS'];

beforeAll(async () => {
  gcs = await startFakeGcs();
  metadata = await startMetadataDouble(ACCESS_TOKEN);
  cloudRun = await startCloudRunDouble((request) => override?.(request));
  for (const name of PROCESS_VARIABLES) saved[name] = process.env[name];
  // Libraries read these from the process: the GCS adapter its endpoint, google-auth-library the metadata server.
  process.env.GCS_API_ENDPOINT = gcs.endpoint;
  process.env.GOOGLE_CLOUD_PROJECT = 'mlstack-dev';
  process.env.GCE_METADATA_HOST = metadata.host;
  process.env.METADATA_SERVER_DETECTION = 'assume-present';
  delete process.env.GOOGLE_APPLICATION_CREDENTIALS;
});

afterAll(async () => {
  for (const name of PROCESS_VARIABLES) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
  await Promise.all([gcs?.close(), metadata?.close(), cloudRun?.close()]);
});

afterEach(() => {
  override = undefined;
});

/** The container's variables: exactly what the gcp stack sets, plus the image's config folder, the run id and the API root. */
function stackEnv(api: SampleApi, runId: string, trigger = true): NodeJS.ProcessEnv {
  const launch = ingestionLaunch(
    { cloud: 'gcp', envName: 'dev', project: 'mlstack', bucket: 'gs://mlstack-dev-data' },
    api.url,
    undefined,
    trigger ? { kind: 'cloud-run-job', job: JOB } : { kind: 'none' },
  );
  expect(launch.args).toEqual(['ingest']);
  return { ...launch.env, [ENV.configDir]: copyConfig(), [ENV.runId]: runId, [ENV.gcpRunApi]: cloudRun.url, [ENV.logLevel]: 'silent' };
}

async function runEntrypoint(env: NodeJS.ProcessEnv): Promise<{ code: number; result: any; stderr: string }> {
  const out = capture();
  const err = capture();
  const code = await main(env, out.stream, err.stream, ['ingest']);
  const line = out.text().trim();
  return { code, result: line ? JSON.parse(line) : undefined, stderr: err.text() };
}

test('a complete run with rows runs the training job with the run folder as its data', async () => {
  const api = await startSampleApi({ rows: 300, pageSize: 100 });
  try {
    const before = cloudRun.requests.length;
    const { code, result, stderr } = await runEntrypoint(stackEnv(api, 'gcp-run'));
    expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
    expect(result.rows.processed).toBeGreaterThan(0);
    const store = new GcsObjectStore('mlstack-dev-data');
    const processed = processedPrefix('gcp-run');
    expect(processed).toBe('data/processed/mlstack/gcp-run/');
    expect(await store.exists(`${processed}${SUCCESS_MARKER}`)).toBe(true);
    expect(await store.exists(`${processed}data.csv`)).toBe(true);

    expect(result.training).toEqual({
      kind: 'cloud-run-job',
      status: 'started',
      id: `${JOB}/executions/mlstack-dev-training-00001`,
      dataUri: `gs://mlstack-dev-data/${processed}`,
    });
    const sent = cloudRun.requests.slice(before);
    expect(sent.map((r) => `${r.method} ${r.path}`)).toEqual([`POST /v2/${JOB}:run`]);
    expect(sent[0].body).toEqual({
      overrides: {
        containerOverrides: [
          {
            env: [
              { name: ENV.dataUri, value: `gs://mlstack-dev-data/${processed}` },
              { name: ENV.runId, value: 'mlstack-dev-gcp-run' },
            ],
          },
        ],
      },
    });
    expect(sent[0].headers.authorization).toBe(`Bearer ${ACCESS_TOKEN}`);
    expect(sent[0].headers['content-type']).toBe('application/json');

    const tokenCalls = metadata.requests.filter((r) => r.path === METADATA_TOKEN_PATH);
    expect(tokenCalls.length).toBeGreaterThanOrEqual(1);
    expect(tokenCalls[0].headers['metadata-flavor']).toBe('Google');
    expect(tokenCalls[0].query.scopes).toBe('https://www.googleapis.com/auth/cloud-platform');
  } finally {
    await api.close();
  }
});

test('a refused trigger exits 1 keeping the data; rerunning the same run id runs the job', async () => {
  const api = await startSampleApi({ rows: 200, pageSize: 100 });
  try {
    override = (request) =>
      request.method === 'POST'
        ? { status: 403, body: { error: { code: 403, message: "Permission 'run.jobs.runWithOverrides' denied on resource", status: 'PERMISSION_DENIED' } } }
        : undefined;
    const env = stackEnv(api, 'gcp-denied');
    const denied = await runEntrypoint(env);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain(`POST ${cloudRun.url}/v2/${JOB}:run: HTTP 403: PERMISSION_DENIED: Permission 'run.jobs.runWithOverrides' denied on resource`);
    expect(denied.stderr).toContain('needs run.jobs.runWithOverrides on the training job');
    expect(denied.stderr).toContain(`run the job again with ${ENV.runId}=gcp-denied to retry the trigger`);
    expect(denied.result.training).toMatchObject({ kind: 'cloud-run-job', status: 'failed' });
    const processed = processedPrefix('gcp-denied');
    expect(await new GcsObjectStore('mlstack-dev-data').exists(`${processed}${SUCCESS_MARKER}`)).toBe(true);

    override = undefined;
    const before = cloudRun.requests.length;
    const retried = await runEntrypoint(env);
    expect({ code: retried.code, stderr: retried.stderr }).toEqual({ code: 0, stderr: '' });
    expect(retried.result.rows).toEqual(denied.result.rows);
    expect(retried.result.training).toMatchObject({ kind: 'cloud-run-job', status: 'started', dataUri: `gs://mlstack-dev-data/${processed}` });
    expect(cloudRun.requests.slice(before).map((r) => (r.body as any).overrides.containerOverrides[0].env[0].value)).toEqual([
      `gs://mlstack-dev-data/${processed}`,
    ]);
  } finally {
    await api.close();
  }
});

test('a run with no rows, or no trigger variables, runs nothing', async () => {
  const empty = await startSampleApi({ rows: 0 });
  const some = await startSampleApi({ rows: 50 });
  try {
    const before = cloudRun.requests.length;
    const nothing = await runEntrypoint(stackEnv(empty, 'gcp-empty'));
    expect(nothing.code).toBe(0);
    expect(nothing.result.rows.processed).toBe(0);
    expect(nothing.result.training).toEqual({ kind: 'cloud-run-job', status: 'skipped', reason: 'run gcp-empty has no processed rows' });

    const untriggered = await runEntrypoint(stackEnv(some, 'gcp-untriggered', false));
    expect(untriggered.code).toBe(0);
    expect(untriggered.result.rows.processed).toBeGreaterThan(0);
    expect(untriggered.result).not.toHaveProperty('training');
    expect(cloudRun.requests.length).toBe(before);
  } finally {
    await Promise.all([empty.close(), some.close()]);
  }
});
