import * as path from 'node:path';
import { Duration } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import { Construct } from 'constructs';
import { DEFAULT_WORKDIR } from '../../../runtime/contract/layout';
import { UNPINNED_IMAGE_TAG, type ImageName } from '../../../runtime/contract/images';
import { removalPolicyFor } from '../retention';
import { PropsValidator, sageMakerNamePattern } from '../validation';

/** The project's container images; each is built from containers/<image name>/Dockerfile. */
export const IMAGES = {
  ingestion: 'ingestion',
  training: 'training-gpu',
  serving: 'serving',
} as const satisfies Record<string, ImageName>;
export type ImageKind = keyof typeof IMAGES;

/**
 * The tag that means "no CI-built tag is pinned": the stack then runs the
 * image `cdk deploy` builds from this checkout.
 */
export const ASSET_IMAGE_TAG = UNPINNED_IMAGE_TAG;

/** Paths never sent to Docker or hashed for the image assets (keeps synth fast). */
export const IMAGE_ASSET_EXCLUDES = [
  'node_modules',
  '.git',
  'cdk.out',
  'cdktf.out',
  'coverage',
  DEFAULT_WORKDIR,
  'dist',
  // Not needed to bundle the handlers (containers/build.ts bundles runtime/, config/, infra/ names).
  'test',
  'docs',
  'bench',
];

/** A container image a job runs, plus the permission to pull it. */
export interface ImageReference {
  readonly imageUri: string;
  /** Lets the grantee pull the image (ECR layer reads + GetAuthorizationToken). */
  grantPull(grantee: iam.IGrantable): iam.Grant;
}

/** Where the environment's ECR repositories are declared and how long they keep images. */
export interface ImageRepositoriesProps {
  /** ECR repository name of each image (awsNames(...).repositories), e.g. `mlstack-dev/serving`. */
  readonly repositoryNames: Readonly<Record<ImageName, string>>;
  /** Keep the repositories (and their images) when the stack is deleted (config `retain_on_delete`). @default true */
  readonly retainOnDelete?: boolean;
  /** Tagged images kept per repository; older ones expire. @default 30 */
  readonly maxTaggedImages?: number;
  /** Days after which untagged images expire. @default 7 */
  readonly untaggedImageExpiryDays?: number;
  /** Config file named in validation errors. @default - none named */
  readonly configFile?: string;
}

export interface RegistryProps {
  /** ECR repository name of each image (awsNames(...).repositories); the repositories are declared by the registry stack. */
  readonly repositoryNames: Readonly<Record<ImageName, string>>;
  /** SageMaker model package group that holds the model versions (awsNames(...).modelPackageGroup). */
  readonly modelPackageGroupName: string;
  /**
   * Image tag the environment runs (config `aws.image_tag`). `latest` selects the
   * images `cdk deploy` builds from containers/ (Docker image assets, in the CDK
   * bootstrap's asset repository); any other tag selects `<repository>:<tag>` in
   * the environment's own repositories, pushed by CI (`mlstack images push --cloud aws`),
   * and declares no image asset, so `cdk deploy` needs no Docker.
   * @default 'latest'
   */
  readonly imageTag?: string;
  /** Repository root: the Docker build context of every image. @default - the current working directory */
  readonly buildContext?: string;
  /** Keep the model package group when the stack is deleted (config `retain_on_delete`). @default true */
  readonly retainOnDelete?: boolean;
  /** Config file named in validation errors. @default - none named */
  readonly configFile?: string;
}

/** What ImageRepositories and Registry use for each omitted prop; their validation checks the same values. */
export const REGISTRY_DEFAULTS = {
  retainOnDelete: true,
  maxTaggedImages: 30,
  untaggedImageExpiryDays: 7,
  imageTag: ASSET_IMAGE_TAG,
} as const;

const ECR_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;
const IMAGE_TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const PACKAGE_GROUP = sageMakerNamePattern(63);

function checkRepositoryNames(v: PropsValidator, names: Readonly<Record<ImageName, string>>): void {
  for (const image of Object.values(IMAGES)) {
    const name = names[image];
    v.checkResolved(
      name,
      (n) => ECR_NAME.test(n) && n.length >= 2 && n.length <= 256,
      'repositoryNames',
      'project (pipeline.json) + environment',
      `ECR repository name "${name}" is invalid: lowercase letters, digits, ".", "_", "-" and "/" separators`,
    );
  }
}

/**
 * One ECR repository per image: scan on push, immutable tags, KMS encryption,
 * lifecycle rules. Declared alone in the registry stack (MlStack-<env>-registry),
 * so the repositories exist before CI pushes the images that MlStack-<env> runs.
 */
export class ImageRepositories extends Construct {
  readonly repositories: Record<ImageKind, ecr.Repository>;

  constructor(scope: Construct, id: string, props: ImageRepositoriesProps) {
    super(scope, id);
    this.validate(props);
    const repositories = {} as Record<ImageKind, ecr.Repository>;
    for (const kind of Object.keys(IMAGES) as ImageKind[]) repositories[kind] = this.createRepository(kind, props);
    this.repositories = repositories;
  }

  private createRepository(kind: ImageKind, props: ImageRepositoriesProps): ecr.Repository {
    const retain = props.retainOnDelete ?? REGISTRY_DEFAULTS.retainOnDelete;
    return new ecr.Repository(this, `${kind}Repository`, {
      repositoryName: props.repositoryNames[IMAGES[kind]],
      imageScanOnPush: true,
      imageTagMutability: ecr.TagMutability.IMMUTABLE,
      encryption: ecr.RepositoryEncryption.KMS,
      removalPolicy: removalPolicyFor(retain),
      emptyOnDelete: !retain,
      lifecycleRules: [
        {
          description: 'Expire untagged layers left by failed or superseded pushes',
          tagStatus: ecr.TagStatus.UNTAGGED,
          maxImageAge: Duration.days(props.untaggedImageExpiryDays ?? REGISTRY_DEFAULTS.untaggedImageExpiryDays),
          rulePriority: 1,
        },
        {
          description: 'Keep the most recent tagged images',
          tagStatus: ecr.TagStatus.ANY,
          maxImageCount: props.maxTaggedImages ?? REGISTRY_DEFAULTS.maxTaggedImages,
          rulePriority: 2,
        },
      ],
    });
  }

  /** Lets CI push tagged images to the repository of one image. */
  grantPush(grantee: iam.IGrantable, kind: ImageKind): iam.Grant {
    return this.repositories[kind].grantPullPush(grantee);
  }

  private validate(props: ImageRepositoriesProps): void {
    const v = new PropsValidator(this, props.configFile);
    checkRepositoryNames(v, props.repositoryNames);
    for (const [prop, value] of [
      ['maxTaggedImages', props.maxTaggedImages ?? REGISTRY_DEFAULTS.maxTaggedImages],
      ['untaggedImageExpiryDays', props.untaggedImageExpiryDays ?? REGISTRY_DEFAULTS.untaggedImageExpiryDays],
    ] as const) {
      v.check(Number.isInteger(value) && value >= 1, prop, prop, `must be a whole number >= 1, found ${value}`);
    }
    v.throwIfInvalid();
  }
}

/**
 * The images a stack's jobs run and the SageMaker model package group for
 * model versions. The environment's ECR repositories are referenced by name
 * (declared by the registry stack: no cross-stack export to lock them); with
 * `latest` the jobs instead run the Docker image assets `cdk deploy` builds.
 */
export class Registry extends Construct {
  /** The environment's repositories (declared in MlStack-<env>-registry), referenced by name. */
  readonly repositories: Record<ImageKind, ecr.IRepository>;
  /** The images `cdk deploy` builds; empty when aws.image_tag pins CI-pushed images. */
  readonly assets: Partial<Record<ImageKind, ecrAssets.DockerImageAsset>>;
  readonly modelPackageGroup: sagemaker.CfnModelPackageGroup;
  readonly modelPackageGroupName: string;
  readonly imageTag: string;

  constructor(scope: Construct, id: string, props: RegistryProps) {
    super(scope, id);
    this.imageTag = props.imageTag ?? REGISTRY_DEFAULTS.imageTag;
    this.modelPackageGroupName = props.modelPackageGroupName;
    this.validate(props);
    const repositories = {} as Record<ImageKind, ecr.IRepository>;
    const assets: Partial<Record<ImageKind, ecrAssets.DockerImageAsset>> = {};
    for (const kind of Object.keys(IMAGES) as ImageKind[]) {
      const repositoryName = props.repositoryNames[IMAGES[kind]];
      repositories[kind] = ecr.Repository.fromRepositoryName(this, `${kind}Repository`, repositoryName);
      if (this.usesImageAssets) assets[kind] = this.createImageAsset(kind, repositoryName, props.buildContext);
    }
    this.repositories = repositories;
    this.assets = assets;
    this.modelPackageGroup = new sagemaker.CfnModelPackageGroup(this, 'ModelPackageGroup', {
      modelPackageGroupName: props.modelPackageGroupName,
      modelPackageGroupDescription: `Model versions registered by the ${props.modelPackageGroupName} training pipeline`,
    });
    this.modelPackageGroup.applyRemovalPolicy(removalPolicyFor(props.retainOnDelete ?? REGISTRY_DEFAULTS.retainOnDelete));
  }

  /** The image `cdk deploy` builds from containers/<image>/Dockerfile in the build context. */
  private createImageAsset(kind: ImageKind, repositoryName: string, buildContext: string = process.cwd()): ecrAssets.DockerImageAsset {
    return new ecrAssets.DockerImageAsset(this, `${kind}Image`, {
      directory: path.resolve(buildContext),
      file: path.join('containers', IMAGES[kind], 'Dockerfile'),
      exclude: IMAGE_ASSET_EXCLUDES,
      platform: ecrAssets.Platform.LINUX_AMD64,
      displayName: repositoryName,
    });
  }

  /** True when jobs run the images built by `cdk deploy` rather than a CI-pushed tag. */
  get usesImageAssets(): boolean {
    return this.imageTag === ASSET_IMAGE_TAG;
  }

  /** The image a job of this kind runs in this environment. */
  image(kind: ImageKind): ImageReference {
    const asset = this.assets[kind];
    if (asset) return { imageUri: asset.imageUri, grantPull: (g) => asset.repository.grantPull(g) };
    const repository = this.repositories[kind];
    return { imageUri: repository.repositoryUriForTag(this.imageTag), grantPull: (g) => repository.grantPull(g) };
  }

  /** ARN pattern of the model packages (versions) in the group. */
  get modelPackageArnPattern(): string {
    return this.modelPackageGroup.stack.formatArn({
      service: 'sagemaker',
      resource: 'model-package',
      resourceName: `${this.modelPackageGroupName}/*`,
    });
  }

  /** Lets the grantee register model versions in the group (and read them and the group back). */
  grantRegisterModel(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['sagemaker:CreateModelPackage', 'sagemaker:DescribeModelPackage', 'sagemaker:DescribeModelPackageGroup', 'sagemaker:AddTags'],
      resourceArns: [this.modelPackageGroup.attrModelPackageGroupArn, this.modelPackageArnPattern],
    });
  }

  /** Lets CI push tagged images to the repository of one image (an identity policy: the repository is in the registry stack). */
  grantPush(grantee: iam.IGrantable, kind: ImageKind): iam.Grant {
    return this.repositories[kind].grantPullPush(grantee);
  }

  private validate(props: RegistryProps): void {
    const v = new PropsValidator(this, props.configFile);
    checkRepositoryNames(v, props.repositoryNames);
    v.checkPattern(
      this.imageTag,
      IMAGE_TAG,
      'imageTag',
      'aws.image_tag',
      `"${this.imageTag}" is not a valid image tag: up to 128 letters, digits, "_", "." and "-", not starting with "." or "-"`,
    );
    v.checkPattern(
      props.modelPackageGroupName,
      PACKAGE_GROUP,
      'modelPackageGroupName',
      'project (pipeline.json) + environment',
      `"${props.modelPackageGroupName}" is not a valid model package group name: up to 63 letters, digits and dashes`,
    );
    v.throwIfInvalid();
  }
}
