/**
 * Every environment variable that crosses the line between a stack (or a platform) and a container,
 * and the ones the CLI reads: one catalogue, so infra/ sets exactly what runtime/ reads. Runtime code
 * reads them as `process.env[ENV.bucket]`; a test fails on any `MLSTACK_*` name spelled outside this file.
 */
import type { CloudName } from '../../config/schema';
import type { ImageName } from './images';

/** Our own variables. */
export const ENV = {
  /** Environment name (dev, qa, staging, prod). Stack-set in every job. */
  env: 'MLSTACK_ENV',
  /** aws | gcp | azure | local: which cloud's store and config section a job uses. Stack-set. */
  cloud: 'MLSTACK_CLOUD',
  /** The environment's store root: s3://bucket, gs://bucket or az://account/container. Stack-set. */
  bucket: 'MLSTACK_BUCKET',
  /** Ingestion source: API URL, file or object URI, postgres:// or mysql:// URL. Stack-set from `ingestion_source`. */
  source: 'MLSTACK_SOURCE',
  /** Project config folder inside an image (the Dockerfiles set /app/config). */
  configDir: 'MLSTACK_CONFIG_DIR',
  /** Local store root for `--cloud local` runs. */
  workdir: 'MLSTACK_WORKDIR',
  /** Repeats or resumes one run (ingestion, training). */
  runId: 'MLSTACK_RUN_ID',
  /** Training: one processed run folder or CSV URI to train on; default the newest complete processed run. */
  dataUri: 'MLSTACK_DATA_URI',
  /** Serving: the pinned version (v3) or `latest`. Stack-set from `model_version`. */
  modelVersion: 'MLSTACK_MODEL_VERSION',
  /** Serving: the bucket root whose registry resolves MLSTACK_MODEL_VERSION. Stack-set on GCP and Azure. */
  registryUri: 'MLSTACK_REGISTRY_URI',
  /** The registry project (pipeline.json `project`). Stack-set wherever a registry is read or written. */
  project: 'MLSTACK_PROJECT',
  /** Registration on AWS: the serving image URI recorded in the SageMaker model package. Stack-set. */
  servingImage: 'MLSTACK_SERVING_IMAGE',
  /**
   * Ingestion on GCP: the Cloud Run training job to run when a run completes
   * (`projects/<project>/locations/<region>/jobs/<name>`). Stack-set.
   */
  trainingJob: 'MLSTACK_TRAINING_JOB',
  /** Ingestion on Azure: the Machine Learning workspace (ARM id) and compute cluster a training job is submitted to. Stack-set. */
  azuremlWorkspace: 'MLSTACK_AZUREML_WORKSPACE',
  azuremlCompute: 'MLSTACK_AZUREML_COMPUTE',
  /** Ingestion on Azure: the training image the submitted job runs, and the client id of the identity it runs as. Stack-set. */
  trainingImage: 'MLSTACK_TRAINING_IMAGE',
  trainingIdentity: 'MLSTACK_TRAINING_IDENTITY',
  /** API roots the training trigger calls; tests point them at loopback doubles. */
  gcpRunApi: 'MLSTACK_GCP_RUN_API',
  azureArmApi: 'MLSTACK_AZURE_ARM_API',
  /** Serving: a version, folder or URI to serve (local runs and tests; overrides the registry variables). */
  model: 'MLSTACK_MODEL',
  /** SageMaker roots, movable for tests: /opt/ml and /opt/ml/model. */
  sageMakerRoot: 'MLSTACK_SM_ROOT',
  sageMakerModelDir: 'MLSTACK_SM_MODEL_DIR',
  sageMakerPingRoute: 'MLSTACK_SM_PING_ROUTE',
  sageMakerInvocationsRoute: 'MLSTACK_SM_INVOCATIONS_ROUTE',
  metricsRoute: 'MLSTACK_METRICS_ROUTE',
  /** Serving processes (a number or auto). */
  workers: 'MLSTACK_WORKERS',
  maxBatchSize: 'MLSTACK_MAX_BATCH_SIZE',
  maxBodyBytes: 'MLSTACK_MAX_BODY_BYTES',
  /**
   * 1: a model package without manifest.json (written before packages carried one) loads with a warning, and
   * registration adopts it (hashes its files as they are); a package whose files do not match its manifest never does.
   */
  allowUnverifiedPackages: 'MLSTACK_ALLOW_UNVERIFIED_PACKAGES',
  /** js | wasm: the serving forward pass. */
  forward: 'MLSTACK_FORWARD',
  /** 1 | 0: overrides the environment's training.require_gpu inside a training container. */
  requireGpu: 'MLSTACK_REQUIRE_GPU',
  /** Forces a TF.js backend (tensorflow, wasm, cpu). */
  tfBackend: 'MLSTACK_TF_BACKEND',
  /** Lineage: set at image build (Dockerfiles) or derived from git. */
  codeVersion: 'MLSTACK_CODE_VERSION',
  logLevel: 'MLSTACK_LOG_LEVEL',
  debug: 'MLSTACK_DEBUG',
  /** CI: a missing emulator or database fails the tests instead of skipping them. */
  requireServices: 'MLSTACK_REQUIRE_SERVICES',
  /** `mlstack invoke` endpoints and credentials per cloud. */
  gcpEndpointUrl: 'MLSTACK_GCP_ENDPOINT_URL',
  gcpIdToken: 'MLSTACK_GCP_ID_TOKEN',
  vertexEndpoint: 'MLSTACK_VERTEX_ENDPOINT',
  vertexApiEndpoint: 'MLSTACK_VERTEX_API_ENDPOINT',
  azureEndpointUrl: 'MLSTACK_AZURE_ENDPOINT_URL',
  azureEndpointKey: 'MLSTACK_AZURE_ENDPOINT_KEY',
  /** Terraform state backends for cdktf (infra/cdktf/backend.ts). */
  tfGcsBucket: 'MLSTACK_TF_GCS_BUCKET',
  tfAzureState: 'MLSTACK_TF_AZURE_STATE',
} as const;

export type EnvKey = keyof typeof ENV;

/** Variables the platforms set in the containers they start (read, never set by our stacks). */
export const PLATFORM_ENV = {
  /** SageMaker training. */
  trainingJobName: 'TRAINING_JOB_NAME',
  /** Cloud Run: the port to listen on; the execution id (the same across a task's retries). */
  port: 'PORT',
  cloudRunExecution: 'CLOUD_RUN_EXECUTION',
  /** Vertex AI. */
  aipHttpPort: 'AIP_HTTP_PORT',
  aipHealthRoute: 'AIP_HEALTH_ROUTE',
  aipPredictRoute: 'AIP_PREDICT_ROUTE',
  aipStorageUri: 'AIP_STORAGE_URI',
  aipModelDir: 'AIP_MODEL_DIR',
  aipCheckpointDir: 'AIP_CHECKPOINT_DIR',
  aipTrainingDataUri: 'AIP_TRAINING_DATA_URI',
  cloudMlJobId: 'CLOUD_ML_JOB_ID',
  /** Azure ML. */
  azuremlModelDir: 'AZUREML_MODEL_DIR',
  azuremlRunId: 'AZUREML_RUN_ID',
  amlPort: 'AML_PORT',
  amlLivenessRoute: 'AML_LIVENESS_ROUTE',
  amlReadinessRoute: 'AML_READINESS_ROUTE',
  amlScoringRoute: 'AML_SCORING_ROUTE',
  /** Read by @azure/identity: which user-assigned identity a job runs as (our Azure stacks set it). */
  azureClientId: 'AZURE_CLIENT_ID',
  /** MLflow's own: a bearer token for the tracking server pipeline.json `tracking.mlflow` names. */
  mlflowToken: 'MLFLOW_TRACKING_TOKEN',
} as const;

/** The value a stack writes into a secret before an operator stores the real one; the runtime refuses it. */
export const SECRET_PLACEHOLDER_PREFIX = 'set-me';

export function isSecretPlaceholder(value: string | undefined): boolean {
  return value !== undefined && value.startsWith(SECRET_PLACEHOLDER_PREFIX);
}

/** How the stack starts one container: its arguments, plain variables and variables filled from a secret. */
export interface ContainerLaunch {
  args: string[];
  env: Record<string, string>;
  /** Variable name -> what it carries; the stack fills each from its cloud's secret store. */
  secretEnv: Record<string, 'api token'>;
}

/** What every stack knows when it declares a container. */
export interface LaunchContext {
  cloud: CloudName;
  envName: string;
  project: string;
  /** The environment's store root (bucketUri in layout.ts). */
  bucket: string;
}

/**
 * What starts training once an ingestion run has completed: on AWS an EventBridge rule on the
 * `_SUCCESS.json` marker (nothing in the container); on GCP the ingestion container runs the Cloud Run
 * training job with the run's data; on Azure it submits an Azure ML command job to the GPU cluster.
 */
export type TrainingTrigger =
  | { kind: 'none' }
  | { kind: 'cloud-run-job'; job: string }
  | { kind: 'azureml'; workspace: string; compute: string; image: string; identityClientId: string };

/**
 * Scheduled ingestion: `<ingestion image> ingest` with the environment, cloud, store and source;
 * the API token (when parser.json configures auth with token_env) comes from the secret.
 */
export function ingestionLaunch(ctx: LaunchContext, source: string, tokenEnv: string | undefined, trigger: TrainingTrigger = { kind: 'none' }): ContainerLaunch {
  const env: Record<string, string> = {
    [ENV.env]: ctx.envName,
    [ENV.cloud]: ctx.cloud,
    [ENV.bucket]: ctx.bucket,
    [ENV.project]: ctx.project,
    [ENV.source]: source,
  };
  if (trigger.kind === 'cloud-run-job') env[ENV.trainingJob] = trigger.job;
  if (trigger.kind === 'azureml') {
    env[ENV.azuremlWorkspace] = trigger.workspace;
    env[ENV.azuremlCompute] = trigger.compute;
    env[ENV.trainingImage] = trigger.image;
    env[ENV.trainingIdentity] = trigger.identityClientId;
  }
  return { args: ['ingest'], env, secretEnv: tokenEnv ? { [tokenEnv]: 'api token' } : {} };
}

/**
 * Training in bucket mode (Cloud Run job, Azure ML command job): `<training image> train` reads the
 * newest complete processed run under MLSTACK_BUCKET (or MLSTACK_DATA_URI), checkpoints and writes its
 * package there, and registers the next version.
 */
export function bucketTrainingLaunch(ctx: LaunchContext): ContainerLaunch {
  return {
    args: ['train'],
    env: { [ENV.env]: ctx.envName, [ENV.cloud]: ctx.cloud, [ENV.bucket]: ctx.bucket, [ENV.project]: ctx.project },
    secretEnv: {},
  };
}

/** SageMaker training job `Environment`: the container reads its environment's config (require_gpu). */
export function sageMakerTrainingEnvironment(ctx: Pick<LaunchContext, 'envName'>): Record<string, string> {
  return { [ENV.env]: ctx.envName, [ENV.cloud]: 'aws' };
}

/**
 * Registration on AWS (a processing job after evaluation): `<training image> register` allocates the
 * next version in the bucket's registry, writes `<models><project>/<version>/model.tar.gz` and the
 * SageMaker model package that points at it.
 */
export function sageMakerRegisterLaunch(ctx: LaunchContext, servingImage: string, paths: { model: string; evaluation: string; output: string }): ContainerLaunch {
  return {
    args: ['register', '--model', paths.model, '--evaluation', paths.evaluation, '--output', paths.output],
    env: {
      [ENV.env]: ctx.envName,
      [ENV.cloud]: 'aws',
      [ENV.bucket]: ctx.bucket,
      [ENV.project]: ctx.project,
      [ENV.servingImage]: servingImage,
    },
    secretEnv: {},
  };
}

/** Serving where the registry resolves the version (Cloud Run, Container Apps). */
export function registryServingLaunch(ctx: LaunchContext, modelVersion: string): ContainerLaunch {
  return {
    args: ['serve'],
    env: { [ENV.modelVersion]: modelVersion, [ENV.registryUri]: `${ctx.bucket}/`, [ENV.project]: ctx.project },
    secretEnv: {},
  };
}

/** SageMaker serving: the model arrives unpacked in /opt/ml/model; the version labels predictions. */
export function sageMakerServingEnvironment(modelVersion: string): Record<string, string> {
  return { [ENV.modelVersion]: modelVersion };
}

/** The images and what each one's launch functions produce, for tests that compare stacks with the contract. */
export const IMAGE_OF_LAUNCH: Record<'ingestion' | 'training' | 'register' | 'serving', ImageName> = {
  ingestion: 'ingestion',
  training: 'training-gpu',
  register: 'training-gpu',
  serving: 'serving',
};
