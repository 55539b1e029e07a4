import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { ENV, ingestionLaunch, type TrainingTrigger } from '../../runtime/contract/env';
import { imageCommand } from '../../runtime/contract/images';
import { trainingTriggerFromEnv, assertTriggerFits, TriggerConfigError } from '../../runtime/trigger';
import { trainingRunName, commandJobBody, environmentVersionOf, isoDuration, type AzureMlJobSpec } from '../../runtime/trigger/azureml';
import { runJobRequest } from '../../runtime/trigger/cloud-run';

const WORKSPACE = '/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/mlstack-dev-rg/providers/Microsoft.MachineLearningServices/workspaces/mlstack-dev-ws';
const ctx = { cloud: 'gcp' as const, envName: 'dev', project: 'mlstack', bucket: 'gs://mlstack-dev-data' };

describe('trainingTriggerFromEnv: the trigger read back from what the stack sets', () => {
  it('reads nothing when no trigger variable is set', () => {
    expect(trainingTriggerFromEnv({})).toEqual({ kind: 'none' });
    expect(trainingTriggerFromEnv(ingestionLaunch(ctx, 'https://api.example.com/v1/customers', undefined).env)).toEqual({ kind: 'none' });
  });

  it('round-trips every trigger ingestionLaunch writes', () => {
    const segment = fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/);
    const trigger: fc.Arbitrary<TrainingTrigger> = fc.oneof(
      fc.record({ kind: fc.constant('none' as const) }),
      fc.tuple(segment, segment, segment).map(([p, r, j]) => ({ kind: 'cloud-run-job' as const, job: `projects/${p}/locations/${r}/jobs/${j}` })),
      fc.record({
        kind: fc.constant('azureml' as const),
        workspace: fc.tuple(fc.uuid(), segment, segment).map(([s, g, w]) => `/subscriptions/${s}/resourceGroups/${g}/providers/Microsoft.MachineLearningServices/workspaces/${w}`),
        compute: segment,
        image: segment.map((s) => `registry.example/${s}:v1`),
        identityClientId: fc.uuid(),
      }),
    );
    fc.assert(
      fc.property(trigger, (t) => {
        expect(trainingTriggerFromEnv(ingestionLaunch(ctx, 'https://api.example.com/x', 'API_TOKEN', t).env)).toEqual(t);
      }),
    );
  });

  it('refuses half an Azure trigger, both triggers, and malformed names, naming the variables', () => {
    expect(() => trainingTriggerFromEnv({ [ENV.azuremlWorkspace]: WORKSPACE, [ENV.azuremlCompute]: 'gpu' })).toThrow(
      new TriggerConfigError(
        `${ENV.azuremlWorkspace}, ${ENV.azuremlCompute} set but ${ENV.trainingImage}, ${ENV.trainingIdentity} not: the azure stack sets all of ` +
          `${ENV.azuremlWorkspace}, ${ENV.azuremlCompute}, ${ENV.trainingImage}, ${ENV.trainingIdentity} to submit training`,
      ),
    );
    expect(() => trainingTriggerFromEnv({ [ENV.trainingJob]: 'projects/p/locations/r/jobs/j', [ENV.trainingImage]: 'img:1' })).toThrow(/both .* \(GCP\) and .* \(Azure\) are set/);
    expect(() => trainingTriggerFromEnv({ [ENV.trainingJob]: 'mlstack-dev-training' })).toThrow(
      `${ENV.trainingJob} is "mlstack-dev-training": expected projects/<project>/locations/<region>/jobs/<name>`,
    );
    expect(() =>
      trainingTriggerFromEnv({ [ENV.azuremlWorkspace]: 'mlstack-dev-ws', [ENV.azuremlCompute]: 'gpu', [ENV.trainingImage]: 'i:1', [ENV.trainingIdentity]: 'id' }),
    ).toThrow(/is "mlstack-dev-ws": expected the workspace's ARM id/);
  });

  it('refuses a trigger on another cloud or without a bucket', () => {
    const job = { kind: 'cloud-run-job' as const, job: 'projects/p/locations/r/jobs/j' };
    expect(() => assertTriggerFits(job, 'aws', 's3://b')).toThrow(`the cloud-run-job training trigger runs on gcp, but ${ENV.cloud} is "aws"`);
    expect(() => assertTriggerFits(job, 'gcp', undefined)).toThrow(`needs the run in a bucket: set ${ENV.bucket}`);
    expect(() => assertTriggerFits(job, 'gcp', 'gs://b')).not.toThrow();
    expect(() => assertTriggerFits({ kind: 'none' }, 'local', undefined)).not.toThrow();
  });
});

describe('Cloud Run jobs.run request', () => {
  it('overrides only the data the training container reads', () => {
    expect(runJobRequest('gs://b/data/processed/r1/', 'mlstack-dev-r1')).toEqual({
      overrides: { containerOverrides: [{ env: [{ name: ENV.dataUri, value: 'gs://b/data/processed/r1/' }, { name: ENV.runId, value: 'mlstack-dev-r1' }] }] },
    });
  });
});

describe('Azure ML names and bodies', () => {
  it('derives one job name per project, environment and ingestion run', () => {
    expect(trainingRunName('mlstack', 'dev', '20261122T102030Z-ab12cd')).toBe('mlstack-dev-20261122t102030z-ab12cd');
    expect(trainingRunName('Churn.Model', 'prod', 'run/1')).toBe('churn-model-prod-run-1');
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 300 }), (run) => {
        const name = trainingRunName('mlstack', 'dev', run);
        expect(name).toMatch(/^[a-z0-9][a-z0-9_-]{0,254}$/);
        expect(trainingRunName('mlstack', 'dev', run)).toBe(name);
      }),
    );
  });

  it('derives a stable environment version from the image reference', () => {
    const image = 'mlstackdevacr.azurecr.io/training-gpu:1.4.0';
    const hash = createHash('sha256').update(image).digest('hex').slice(0, 10);
    expect(environmentVersionOf(image)).toBe(`1.4.0-${hash}`);
    expect(environmentVersionOf(image)).toBe(environmentVersionOf(image));
    expect(environmentVersionOf('otheracr.azurecr.io/training-gpu:1.4.0')).not.toBe(environmentVersionOf(image));
    expect(environmentVersionOf(`${image.replace(':1.4.0', '')}@sha256:${'ab'.repeat(32)}`)).toBe(`sha256-${'ab'.repeat(8)}`);
    expect(environmentVersionOf('localhost:5000/training-gpu')).toMatch(/^untagged-[0-9a-f]{10}$/);
  });

  it('writes the timeout as an ISO 8601 duration', () => {
    expect([14400, 5400, 3661, 45, 0].map(isoDuration)).toEqual(['PT4H', 'PT1H30M', 'PT1H1M1S', 'PT45S', 'PT0S']);
  });

  it('builds the command job the training image runs in bucket mode', () => {
    const spec: AzureMlJobSpec = {
      workspace: WORKSPACE,
      compute: 'gpu-cluster',
      image: 'acr.example/training-gpu:1',
      project: 'mlstack',
      envName: 'qa',
      runId: 'r1',
      command: imageCommand(['train']),
      launchEnv: { [ENV.env]: 'qa', [ENV.cloud]: 'azure' },
      dataUri: 'az://acct/c/data/processed/r1/',
      identityClientId: 'client-1',
      timeoutSeconds: 7200,
      instanceCount: 2,
    };
    expect(commandJobBody(spec, 'mlstack-qa-r1', `${WORKSPACE}/environments/mlstack-training/versions/1`)).toEqual({
      properties: {
        jobType: 'Command',
        displayName: 'mlstack qa training on r1',
        experimentName: 'mlstack-qa',
        computeId: `${WORKSPACE}/computes/gpu-cluster`,
        environmentId: `${WORKSPACE}/environments/mlstack-training/versions/1`,
        command: 'node --enable-source-maps /app/main.js train',
        environmentVariables: {
          [ENV.env]: 'qa',
          [ENV.cloud]: 'azure',
          [ENV.dataUri]: 'az://acct/c/data/processed/r1/',
          [ENV.runId]: 'mlstack-qa-r1',
          AZURE_CLIENT_ID: 'client-1',
        },
        identity: { identityType: 'Managed' },
        limits: { jobLimitsType: 'Command', timeout: 'PT2H' },
        resources: { instanceCount: 2 },
        tags: { ingestion_run: 'r1' },
      },
    });
  });
});
