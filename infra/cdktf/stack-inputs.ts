import { Annotations, type TerraformResource } from 'cdktf';
import type { IConstruct } from 'constructs';
import type { EnvironmentConfig, ParserConfig, PipelineConfig, WithCloud } from '../../config/schema';
import type { LaunchContext } from '../../runtime/contract/env';
import { bucketUri, storagePaths, type StoragePaths } from '../../runtime/contract/layout';
import type { CdktfCloud } from './app';
import { deployedTokenEnv, pinnedModelVersion } from './ingestion';

/** What a cdktf ML stack (GcpMlStack, AzureMlStack) is built from: one environment of the project's config. */
export interface CdktfMlStackProps {
  /** pipeline.json: the project's name and what training runs. */
  readonly pipeline: PipelineConfig;
  /** parser.json: its ingestion.auth.token_env decides whether the stack declares the API secret. */
  readonly parser: ParserConfig;
  /** environments/<env>.json. */
  readonly env: EnvironmentConfig;
  /** Environment variables that choose the state backend (see infra/cdktf/backend.ts). @default process.env */
  readonly backendEnv?: NodeJS.ProcessEnv;
}

/** What every step of a cdktf ML stack reads: the environment's config and what derives from it. */
export interface StackInputs<C extends CdktfCloud> {
  readonly env: WithCloud<C>;
  /** Labels (GCP) or tags (Azure) on every resource that takes them. */
  readonly labels: Record<string, string>;
  /** The contract's launch context: environment, cloud, store root and project. */
  readonly launchContext: LaunchContext;
  readonly paths: StoragePaths;
  /** The variable the ingestion job reads its API token from; undefined when the source needs none. */
  readonly tokenEnv?: string;
  /** config ingestion_source; undefined when no scheduled ingestion is declared. */
  readonly source?: string;
  /** The pinned model version; undefined when no serving is declared. */
  readonly modelVersion?: string;
}

export function stackInputs<C extends CdktfCloud>(cloud: C, props: CdktfMlStackProps, env: WithCloud<C>): StackInputs<C> {
  const project = props.pipeline.project;
  return {
    env,
    // managed_by, not managed-by: `cdktf synth --hcl` rewrites dashed keys in the provider block.
    labels: { project, environment: env.name, managed_by: 'cdktf' },
    launchContext: { cloud, envName: env.name, project, bucket: bucketUri(env, cloud) },
    paths: storagePaths(env, cloud, project),
    tokenEnv: deployedTokenEnv(props.parser),
    source: env.ingestion_source,
    modelVersion: pinnedModelVersion(env),
  };
}

/** `<type>.<id>`: how `terraform apply -target=...` names a resource. */
export function terraformAddress(resource: TerraformResource): string {
  return `${resource.terraformResourceType}.${resource.friendlyUniqueId}`;
}

/** The warning a stack gives when the environment sets no ingestion_source. */
export function warnNoIngestionSource(scope: IConstruct, env: EnvironmentConfig): void {
  Annotations.of(scope).addWarning(
    `No ingestion_source is set for ${env.name}, so no scheduled ingestion is declared. ` +
      `Set ingestion_source in config/environments/${env.name}.json to ingest on ${env.ingestion_schedule}.`,
  );
}

/** The warning a stack gives when no model version is pinned: `service` names what is not declared. */
export function warnNoPinnedModel(scope: IConstruct, env: EnvironmentConfig, service: string): void {
  Annotations.of(scope).addWarning(
    `No model_version is pinned for ${env.name}${env.model_version === 'latest' ? ' ("latest" is not a pin)' : ''}, ` +
      `so ${service} is not declared. ` +
      `Run \`mlstack promote --model <version> --to ${env.name}\` and deploy again.`,
  );
}
