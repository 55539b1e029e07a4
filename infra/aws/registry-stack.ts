import { Stack, Tags, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { requireCloud } from '../../config/load';
import type { EnvironmentName, ProjectConfig } from '../../config/schema';
import { awsNames } from '../../runtime/contract/aws-names';
import { awsStackName } from '../../runtime/contract/stack-names';
import { environmentFile } from './config-files';
import { ImageRepositories } from './constructs/registry';

export interface RegistryStackProps extends StackProps {
  /** The validated project configuration (config/load.ts). */
  readonly project: ProjectConfig;
  /** Which environments/<env>.json this stack declares. */
  readonly environment: EnvironmentName;
}

/**
 * The environment's ECR repositories and nothing else (MlStack-<env>-registry).
 * A first deploy with CI-pushed images runs it alone, pushes the images
 * (`mlstack images push --cloud aws`), then deploys MlStack-<env>, whose
 * SageMaker model CloudFormation only creates once its image exists. It exports
 * nothing: MlStack-<env> names the repositories (awsNames), so this stack never
 * holds an export another stack locks.
 */
export class RegistryStack extends Stack {
  readonly images: ImageRepositories;

  constructor(scope: Construct, id: string, props: RegistryStackProps) {
    const env = requireCloud(props.project.environments[props.environment], 'aws');
    super(scope, id, {
      ...props,
      env: { region: env.aws.region, account: env.aws.account },
      description: `mlstack ${props.environment}: ECR repositories of the ${props.project.pipeline.project} images (deployed before ${awsStackName(props.environment)})`,
    });
    Tags.of(this).add('project', props.project.pipeline.project);
    Tags.of(this).add('environment', props.environment);

    this.images = new ImageRepositories(this, 'Repositories', {
      repositoryNames: awsNames(props.project.pipeline, props.environment).repositories,
      retainOnDelete: env.retain_on_delete,
      configFile: environmentFile(props.project, props.environment),
    });
  }
}
