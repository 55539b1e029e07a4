/**
 * A model's whole path through gcp-<env>, driven by the synthesized stack itself: every container is started
 * with exactly the args and env its Cloud Run resource declares (secrets filled from "Secret Manager", as
 * Cloud Run does), plus what Cloud Run adds (PORT, CLOUD_RUN_EXECUTION) and the emulators standing in for
 * Google's services: the GCS loopback server (no GCS emulator installs here), and labelled doubles of the
 * metadata server and the Cloud Run Admin API (test/trigger/doubles.ts).
 *
 *   Cloud Scheduler -> ingestion job -> processed run + _SUCCESS.json in the bucket -> the job runs the
 *   training job (Admin API) -> training (CPU backend instead of the GPU one) -> registered v1 in the bucket's
 *   registry -> `mlstack promote --model v1` -> re-synthesized stack declares the service pinned to v1 ->
 *   the serving container answers its startup probe and predicts what the model predicts when loaded here.
 */
import type { ProjectConfig } from '../../config/schema';
import { loadProjectConfig } from '../../config/load';
import { buildCdktfApp } from '../../infra/cdktf/app';
import { ENV, isSecretPlaceholder } from '../../runtime/contract/env';
import { storagePaths, SUCCESS_MARKER, versionArchiveKey, versionPrefix } from '../../runtime/contract/layout';
import { startSampleApi, type SampleApi } from '../../runtime/ingestion/sample-api';
import { GcsObjectStore } from '../../runtime/storage/gcs-store';
import { startFakeGcs, type FakeGcs } from '../helpers/gcs-server';
import { makeTempDir } from '../helpers/tmp';
import { startCloudRunDouble, startMetadataDouble } from '../trigger/doubles';
import {
  API_TOKEN,
  buildBundles,
  ENV_NAME,
  featureRows,
  freePort,
  imageEnv,
  localPredictions,
  pathConfig,
  postJson,
  projectRepository,
  promoteAndMerge,
  servedPredictions,
  waitUntilReady,
  type Bundles,
} from './common';
import { runContainer, startContainer, unreadDeclared } from './container';
import { cloudRunContainer, readStack, resourceNamed, resourcesOf, type DeclaredContainer, type TerraformJson } from './terraform';

jest.setTimeout(300_000);

function synthGcp(config: ProjectConfig): TerraformJson {
  const outdir = makeTempDir('mlstack-path-gcp-');
  buildCdktfApp({ config, outdir, clouds: ['gcp'], environments: [ENV_NAME], backendEnv: {} }).synth();
  return readStack(outdir, `gcp-${ENV_NAME}`);
}

/** What Cloud Run puts into the container: plain env plus each secret's latest version. */
function declaredEnv(container: DeclaredContainer, secretManager: Record<string, string>): Record<string, string> {
  const fromSecrets = Object.fromEntries(Object.entries(container.secretEnv).map(([name, secret]) => [name, secretManager[secret]]));
  return { ...container.env, ...fromSecrets };
}

describe('gcp: scheduled ingestion -> training -> registry -> promotion -> serving, as gcp-dev declares it', () => {
  let gcs: FakeGcs;
  let api: SampleApi;
  let metadata: Awaited<ReturnType<typeof startMetadataDouble>>;
  let cloudRun: Awaited<ReturnType<typeof startCloudRunDouble>>;
  let bundles: Bundles;
  let configDir: string;
  let config: ProjectConfig;
  let emulators: Record<string, string>;
  const saved = { ...process.env };

  beforeAll(async () => {
    [gcs, metadata, cloudRun, api] = await Promise.all([
      startFakeGcs(),
      startMetadataDouble('ya29.path-test'),
      startCloudRunDouble(),
      startSampleApi({ rows: 1500, pageSize: 500, token: API_TOKEN }),
    ]);
    configDir = pathConfig(api.url);
    config = loadProjectConfig(configDir);
    bundles = await buildBundles(configDir);
    emulators = {
      GCS_API_ENDPOINT: gcs.endpoint,
      GOOGLE_CLOUD_PROJECT: config.environments[ENV_NAME].gcp!.project_id,
      GCE_METADATA_HOST: metadata.host,
      METADATA_SERVER_DETECTION: 'assume-present',
      [ENV.gcpRunApi]: cloudRun.url,
    };
    // The test process reads the bucket too (promotion, checks): same emulator.
    Object.assign(process.env, { GCS_API_ENDPOINT: gcs.endpoint, GOOGLE_CLOUD_PROJECT: emulators.GOOGLE_CLOUD_PROJECT });
  }, 300_000);

  afterAll(async () => {
    process.env = saved;
    await Promise.all([gcs?.close(), metadata?.close(), cloudRun?.close(), api?.close()]);
  });

  test('walks the whole path; every variable the stack sets is read by its container', async () => {
    const tf = synthGcp(config);
    const env = config.environments[ENV_NAME];
    const bucket = new GcsObjectStore(env.gcp!.storage.bucket);
    const paths = storagePaths(env, 'gcp', config.pipeline.project);
    const project = config.pipeline.project;
    const tag = env.gcp!.image_tag;

    // The operator replaced the stack's placeholder secret version with the real token.
    const secretIds = resourcesOf(tf, 'google_secret_manager_secret').map((s) => s.body.secret_id as string);
    expect(resourcesOf(tf, 'google_secret_manager_secret_version').map((v) => isSecretPlaceholder(v.body.secret_data))).toEqual([true]);
    const secretManager = Object.fromEntries(secretIds.map((id) => [id, API_TOKEN]));

    // 1. Cloud Scheduler runs the ingestion job it names.
    const [schedule] = resourcesOf(tf, 'google_cloud_scheduler_job');
    const ingestionJobName = /\/jobs\/([^/:]+):run$/.exec(schedule.body.http_target.uri)![1];
    const ingestion = cloudRunContainer(resourceNamed(tf, 'google_cloud_run_v2_job', ingestionJobName));
    expect(ingestion.image).toMatch(new RegExp(`/ingestion:${tag}$`));
    const ingestionEnv = declaredEnv(ingestion, secretManager);
    const ingested = await runContainer(
      bundles.ingestion,
      ingestion.args,
      { declared: ingestionEnv, image: imageEnv(bundles.ingestion), platform: { CLOUD_RUN_JOB: ingestionJobName, CLOUD_RUN_EXECUTION: `${ingestionJobName}-sched1` }, emulators },
      'ingestion job',
    );
    expect(unreadDeclared(ingestionEnv, ingested.reads)).toEqual([]);
    const result = JSON.parse(ingested.output.split('\n').find((l) => l.startsWith('{"runId"'))!);
    expect(result.rows.processed).toBeGreaterThan(1000);
    expect(await bucket.exists(`${paths.processed}${result.runId}/${SUCCESS_MARKER}`)).toBe(true);

    // 2. The ingestion job ran the training job with the run's folder; Cloud Run starts it with the overrides.
    expect(cloudRun.requests).toHaveLength(1);
    const runPath = /^\/v2\/(projects\/[^/]+\/locations\/[^/]+\/jobs\/([^/:]+)):run$/.exec(cloudRun.requests[0].path)!;
    expect(runPath[1]).toBe(ingestionEnv[ENV.trainingJob]);
    const training = cloudRunContainer(resourceNamed(tf, 'google_cloud_run_v2_job', runPath[2]));
    expect(training.image).toMatch(new RegExp(`/training-gpu:${tag}$`));
    const overrides = (cloudRun.requests[0].body as any).overrides.containerOverrides[0].env as { name: string; value: string }[];
    const trainingEnv = { ...declaredEnv(training, secretManager), ...Object.fromEntries(overrides.map((o) => [o.name, o.value])) };
    expect(trainingEnv[ENV.dataUri]).toBe(`gs://${env.gcp!.storage.bucket}/${paths.processed}${result.runId}/`);
    const trained = await runContainer(
      bundles.training,
      training.args,
      {
        declared: trainingEnv,
        image: imageEnv(bundles.training),
        // No GPU here: the CPU (wasm) bundle trains, and the environment's require_gpu is waived for it alone.
        platform: { CLOUD_RUN_EXECUTION: cloudRun.executions[0].split('/').pop()!, [ENV.requireGpu]: '0' },
        emulators,
      },
      'training job',
    );
    expect(unreadDeclared(trainingEnv, trained.reads)).toEqual([]);
    expect(await bucket.exists(versionArchiveKey(paths, 'v1'))).toBe(true);
    expect(await bucket.exists(`${versionPrefix(paths, 'v1')}metadata.json`)).toBe(true);

    // 3. The GitOps promotion pins v1 in dev; the re-synthesized stack declares the service for it.
    expect(resourcesOf(tf, 'google_cloud_run_v2_service')).toEqual([]);
    const repo = projectRepository(configDir);
    const promoted = await promoteAndMerge(repo, 'v1', `gs://${env.gcp!.storage.bucket}/`);
    expect(promoted.environments[ENV_NAME].model_version).toBe('v1');
    const served = synthGcp(promoted);
    const [service] = resourcesOf(served, 'google_cloud_run_v2_service');
    const serving = cloudRunContainer(service.body);
    expect(serving.image).toMatch(new RegExp(`/serving:${tag}$`));
    expect(serving.env[ENV.modelVersion]).toBe('v1');

    // 4. Cloud Run starts the serving container with PORT; its startup probe must pass, then it predicts.
    const port = await freePort();
    const servingEnv = declaredEnv(serving, secretManager);
    const container = startContainer(bundles.serving, serving.args, { declared: servingEnv, image: imageEnv(bundles.serving), platform: { PORT: String(port) }, emulators });
    try {
      const probe = service.body.template.containers[0].startup_probe.http_get.path as string;
      await waitUntilReady(`http://127.0.0.1:${port}${probe}`, container);
      const csv = (await bucket.get(`${paths.processed}${result.runId}/data.csv`)).toString('utf8');
      const rows = featureRows(promoted, csv);
      const answer = await postJson(`http://127.0.0.1:${port}/predict`, { instances: rows });
      expect(answer.status).toBe(200);
      expect(answer.json.model_version).toBe('v1');
      const expected = JSON.parse(JSON.stringify(await localPredictions(bucket, 'v1', project, rows)));
      expect(servedPredictions(answer.json)).toEqual(expected);
    } finally {
      container.child.kill('SIGTERM');
      await container.exited;
    }
    expect(unreadDeclared(servingEnv, container.reads())).toEqual([]);
  });
});
