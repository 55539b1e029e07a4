/**
 * `--cloud aws`: mirrors a registry version into SageMaker Model Registry as a model package
 * in the project's model package group (created when missing): the serving image, the version's
 * model.tar.gz as ModelDataUrl and, when the version has one, its evaluation as model-quality
 * statistics. The endpoint can be moved with AWS_ENDPOINT_URL_SAGEMAKER (tests point it at moto_server).
 */
import {
  CreateModelPackageCommand,
  CreateModelPackageGroupCommand,
  DescribeModelPackageGroupCommand,
  SageMakerClient,
} from '@aws-sdk/client-sagemaker';
import { MODEL_ARCHIVE } from '../contract/layout';
import type { ModelVersion } from './index';
import { CloudCallError, UsageError } from '../common/errors';

export interface SageMakerPackageInput {
  version: ModelVersion;
  /** Model package group (aws-names.ts modelPackageGroupName). */
  groupName: string;
  /** Serving image URI in ECR. */
  image: string;
  region: string;
  client?: SageMakerClient;
}

export function sagemakerClient(region: string): SageMakerClient {
  const endpoint = process.env.AWS_ENDPOINT_URL_SAGEMAKER ?? process.env.AWS_ENDPOINT_URL;
  return new SageMakerClient({ region, ...(endpoint ? { endpoint } : {}) });
}

/** SageMaker metadata values are strings of at most 256 characters. */
function metadataOf(version: ModelVersion): Record<string, string> {
  const out: Record<string, string> = {
    mlstack_version: version.version,
    run_id: version.lineage.run_id,
    data_hash: version.lineage.data_hash,
    config_hash: version.lineage.config_hash,
    code_version: version.lineage.code_version,
  };
  for (const [k, v] of Object.entries(version.metrics)) out[`metric_${k}`] = String(v);
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k.slice(0, 128), v.slice(0, 256)]));
}

async function ensureGroup(client: SageMakerClient, groupName: string, project: string): Promise<void> {
  try {
    await client.send(new DescribeModelPackageGroupCommand({ ModelPackageGroupName: groupName }));
  } catch (err) {
    const name = (err as Error).name;
    if (name !== 'ValidationException' && name !== 'ResourceNotFound' && name !== 'ResourceNotFoundException') throw err;
    await client.send(new CreateModelPackageGroupCommand({ ModelPackageGroupName: groupName, ModelPackageGroupDescription: `mlstack models of ${project}` }));
  }
}

/** The version's model.tar.gz in S3: SageMaker loads an archive, never a folder. */
export function modelDataUrlOf(version: ModelVersion): string {
  const url = version.artifact_uri;
  if (!url || !url.startsWith('s3://') || !url.endsWith(`/${MODEL_ARCHIVE}`)) {
    throw new UsageError(
      `${version.project} ${version.version}: a SageMaker model package needs the version's ${MODEL_ARCHIVE} in S3, but its artifact is ${url ?? '(none: the version was not materialised)'}; register it with --cloud aws`,
    );
  }
  return url;
}

/** Creates the model package (PendingManualApproval) and returns its ARN. */
export async function createSageMakerModelPackage(input: SageMakerPackageInput): Promise<string> {
  const client = input.client ?? sagemakerClient(input.region);
  await ensureGroup(client, input.groupName, input.version.project);
  const modelDataUrl = modelDataUrlOf(input.version);
  const statistics = input.version.evaluation_uri;
  const response = await client.send(
    new CreateModelPackageCommand({
      ModelPackageGroupName: input.groupName,
      ModelPackageDescription: `${input.version.project} ${input.version.version} (run ${input.version.lineage.run_id})`,
      ModelApprovalStatus: 'PendingManualApproval',
      InferenceSpecification: {
        Containers: [{ Image: input.image, ModelDataUrl: modelDataUrl }],
        SupportedContentTypes: ['application/json', 'text/csv'],
        SupportedResponseMIMETypes: ['application/json'],
      },
      CustomerMetadataProperties: metadataOf(input.version),
      ...(statistics ? { ModelMetrics: { ModelQuality: { Statistics: { ContentType: 'application/json', S3Uri: statistics } } } } : {}),
    }),
  );
  if (!response.ModelPackageArn) throw new CloudCallError(`SageMaker CreateModelPackage returned no ARN for group ${input.groupName}`);
  return response.ModelPackageArn;
}
