import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { S3_BUCKET_RULE } from '../../../config/naming';
import { FIXED_PREFIXES, layoutOf, type StoragePaths } from '../../../runtime/contract/layout';
import { removalPolicyFor } from '../retention';
import { PropsValidator } from '../validation';

/**
 * The key prefixes inside the data bucket, one per kind of data: the contract's StoragePaths
 * (runtime/contract/layout.ts; raw, processed, models and checkpoints from config `aws.storage.*_path`).
 */
export type DataLakePrefixes = Partial<StoragePaths>;

export type DataLakePrefix = keyof StoragePaths;

export interface DataLakeProps {
  /** Name of the data bucket (config `aws.storage.bucket`). */
  readonly bucketName: string;
  /** Key prefixes inside the bucket (storagePaths(env, 'aws')). @default - the contract's default layout */
  readonly prefixes?: DataLakePrefixes;
  /**
   * Keep the bucket, its key and its access logs when the stack is deleted
   * (config `retain_on_delete`); otherwise they are emptied and destroyed.
   * @default true
   */
  readonly retainOnDelete?: boolean;
  /** Days after which older object versions are deleted. @default 90 */
  readonly noncurrentVersionExpirationDays?: number;
  /** Days after which raw data moves to S3 Infrequent Access. @default 30 */
  readonly rawInfrequentAccessAfterDays?: number;
  /** Days after which training checkpoints expire (a finished job no longer needs them). @default 30 */
  readonly checkpointExpirationDays?: number;
  /** Config file named in validation errors. @default - none named */
  readonly configFile?: string;
}

const CONFIG_KEY: Record<DataLakePrefix, string> = {
  raw: 'aws.storage.raw_path',
  processed: 'aws.storage.processed_path',
  models: 'aws.storage.models_path',
  checkpoints: 'aws.storage.checkpoints_path',
  registry: `(fixed) ${FIXED_PREFIXES.registry}`,
  tracking: `(fixed) ${FIXED_PREFIXES.tracking}`,
  state: `(fixed) ${FIXED_PREFIXES.state}`,
  dataCapture: `(fixed) ${FIXED_PREFIXES.dataCapture}`,
};

/** What DataLake uses for each omitted prop; its validation checks the same values. */
export const DATA_LAKE_DEFAULTS = {
  retainOnDelete: true,
  noncurrentVersionExpirationDays: 90,
  rawInfrequentAccessAfterDays: 30,
  checkpointExpirationDays: 30,
} as const;

/** S3 refuses transitions to Standard-IA earlier than this many days after creation. */
const INFREQUENT_ACCESS_MIN_DAYS = 30;
/** Days the access-log bucket keeps its logs. */
const ACCESS_LOG_EXPIRATION_DAYS = 365;
/** Days after which S3 aborts an unfinished multipart upload. */
const INCOMPLETE_UPLOAD_DAYS = 7;

const PREFIX = /^(?!\/)([A-Za-z0-9._-]+\/)+$/;

/**
 * The project's data bucket: KMS-encrypted with a rotating customer key,
 * versioned, TLS-only, public access blocked, server access logs to a
 * separate bucket, lifecycle rules per prefix, EventBridge notifications on
 * (training starts when processed data lands).
 */
export class DataLake extends Construct {
  readonly bucket: s3.Bucket;
  readonly accessLogsBucket: s3.Bucket;
  readonly encryptionKey: kms.Key;
  readonly prefixes: StoragePaths;

  constructor(scope: Construct, id: string, props: DataLakeProps) {
    super(scope, id);
    this.prefixes = this.parsePrefixes(props.prefixes);
    this.validate(props);
    const removalPolicy = removalPolicyFor(props.retainOnDelete ?? DATA_LAKE_DEFAULTS.retainOnDelete);
    this.encryptionKey = new kms.Key(this, 'Key', {
      description: `Encrypts ${props.bucketName} and the artifacts written from it`,
      enableKeyRotation: true,
      removalPolicy,
    });
    this.accessLogsBucket = this.createAccessLogsBucket(removalPolicy);
    this.bucket = new s3.Bucket(this, 'Bucket', {
      bucketName: props.bucketName,
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: this.encryptionKey,
      bucketKeyEnabled: true,
      versioned: true,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'data-bucket/',
      eventBridgeEnabled: true,
      removalPolicy,
      autoDeleteObjects: removalPolicy === RemovalPolicy.DESTROY,
      lifecycleRules: this.parseLifecycleRules(props),
    });
    this.acknowledgeNotificationsHandler();
  }

  /** The contract's default layout with the given prefixes over it. */
  private parsePrefixes(prefixes: DataLakePrefixes = {}): StoragePaths {
    const given = Object.entries(prefixes).filter(([, prefix]) => prefix !== undefined);
    return { ...layoutOf(undefined), ...Object.fromEntries(given) };
  }

  /** S3 server access logs only support SSE-S3 on the target bucket. */
  private createAccessLogsBucket(removalPolicy: RemovalPolicy): s3.Bucket {
    const bucket = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(ACCESS_LOG_EXPIRATION_DAYS) }],
      removalPolicy,
      autoDeleteObjects: removalPolicy === RemovalPolicy.DESTROY,
    });
    Validations.of(bucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This bucket is the access-log target of the data bucket; logging it to itself would loop.',
    });
    return bucket;
  }

  /** Uploads, old versions, raw data and checkpoints: each kind of object expires or moves on its own schedule. */
  private parseLifecycleRules(props: DataLakeProps): s3.LifecycleRule[] {
    const days = (value: number | undefined, fallback: number) => Duration.days(value ?? fallback);
    return [
      { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(INCOMPLETE_UPLOAD_DAYS) },
      {
        id: 'expire-noncurrent-versions',
        noncurrentVersionExpiration: days(props.noncurrentVersionExpirationDays, DATA_LAKE_DEFAULTS.noncurrentVersionExpirationDays),
      },
      {
        id: 'raw-to-infrequent-access',
        prefix: this.prefixes.raw,
        transitions: [
          {
            storageClass: s3.StorageClass.INFREQUENT_ACCESS,
            transitionAfter: days(props.rawInfrequentAccessAfterDays, DATA_LAKE_DEFAULTS.rawInfrequentAccessAfterDays),
          },
        ],
      },
      {
        id: 'expire-checkpoints',
        prefix: this.prefixes.checkpoints,
        expiration: days(props.checkpointExpirationDays, DATA_LAKE_DEFAULTS.checkpointExpirationDays),
      },
    ];
  }

  /**
   * eventBridgeEnabled makes aws-s3 add one stack-level Lambda that writes the
   * bucket's notification configuration at deploy time.
   */
  private acknowledgeNotificationsHandler(): void {
    const handler = Stack.of(this).node.children.find((c) => c.node.id.startsWith('BucketNotificationsHandler'));
    if (!handler) return;
    Validations.of(handler).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason: 'aws-s3’s own deploy-time handler for EventBridge notifications; the managed policy only lets it write its CloudWatch logs.',
    });
  }

  /** s3:// URI of a prefix, e.g. `s3://bucket/data/processed/`. */
  s3Uri(prefix: DataLakePrefix, suffix = ''): string {
    return `s3://${this.bucket.bucketName}/${this.prefixes[prefix]}${suffix}`;
  }

  /** s3:// URI of one object key, e.g. versionArchiveKey(...) from the contract. */
  objectUri(key: string): string {
    return `s3://${this.bucket.bucketName}/${key}`;
  }

  /** Read exactly one object (GetObject, kms:Decrypt): what a SageMaker model needs to load its archive. */
  grantReadObject(grantee: iam.IGrantable, key: string): iam.Grant {
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:GetObject', 's3:GetObjectVersion'],
      resourceArns: [this.bucket.arnForObjects(key)],
    });
    this.encryptionKey.grant(grantee, 'kms:Decrypt');
    return grant;
  }

  /** Read objects under the given prefixes (GetObject, ListBucket limited to them, kms:Decrypt). */
  grantRead(grantee: iam.IGrantable, ...prefixes: DataLakePrefix[]): iam.Grant {
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:GetObject', 's3:GetObjectVersion'],
      resourceArns: this.objectArns(prefixes),
    });
    this.grantList(grantee, prefixes);
    this.encryptionKey.grant(grantee, 'kms:Decrypt');
    return grant;
  }

  /** Write (not delete) objects under the given prefixes. */
  grantWrite(grantee: iam.IGrantable, ...prefixes: DataLakePrefix[]): iam.Grant {
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
      resourceArns: this.objectArns(prefixes),
    });
    // Multipart uploads to an SSE-KMS bucket need Decrypt as well as GenerateDataKey.
    this.encryptionKey.grant(grantee, 'kms:GenerateDataKey', 'kms:Decrypt');
    return grant;
  }

  /** Read, write and delete objects under the given prefixes. */
  grantReadWrite(grantee: iam.IGrantable, ...prefixes: DataLakePrefix[]): iam.Grant {
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:GetObject', 's3:GetObjectVersion', 's3:PutObject', 's3:AbortMultipartUpload', 's3:DeleteObject'],
      resourceArns: this.objectArns(prefixes),
    });
    this.grantList(grantee, prefixes);
    this.encryptionKey.grant(grantee, 'kms:GenerateDataKey', 'kms:Decrypt');
    return grant;
  }

  private grantList(grantee: iam.IGrantable, prefixes: DataLakePrefix[]): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:ListBucket'],
      resourceArns: [this.bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': prefixes.map((p) => `${this.prefixes[p]}*`) } },
    });
  }

  private objectArns(prefixes: DataLakePrefix[]): string[] {
    return prefixes.map((p) => this.bucket.arnForObjects(`${this.prefixes[p]}*`));
  }

  private validate(props: DataLakeProps): void {
    const v = new PropsValidator(this, props.configFile);
    v.checkResolved(
      props.bucketName,
      S3_BUCKET_RULE.test,
      'bucketName',
      'aws.storage.bucket',
      `"${props.bucketName}" is not a valid S3 bucket name: ${S3_BUCKET_RULE.rule}`,
    );
    this.validatePrefixes(v);
    for (const [prop, days] of [
      ['noncurrentVersionExpirationDays', props.noncurrentVersionExpirationDays ?? DATA_LAKE_DEFAULTS.noncurrentVersionExpirationDays],
      ['rawInfrequentAccessAfterDays', props.rawInfrequentAccessAfterDays ?? DATA_LAKE_DEFAULTS.rawInfrequentAccessAfterDays],
      ['checkpointExpirationDays', props.checkpointExpirationDays ?? DATA_LAKE_DEFAULTS.checkpointExpirationDays],
    ] as const) {
      v.check(Number.isInteger(days) && days >= 1, prop, prop, `must be a whole number of days >= 1, found ${days}`);
    }
    v.check(
      (props.rawInfrequentAccessAfterDays ?? DATA_LAKE_DEFAULTS.rawInfrequentAccessAfterDays) >= INFREQUENT_ACCESS_MIN_DAYS,
      'rawInfrequentAccessAfterDays',
      'rawInfrequentAccessAfterDays',
      `S3 allows a transition to Infrequent Access only after ${INFREQUENT_ACCESS_MIN_DAYS} days or more`,
    );
    v.throwIfInvalid();
  }

  /** Each prefix is relative, ends in "/" and overlaps no other. */
  private validatePrefixes(v: PropsValidator): void {
    const entries = Object.entries(this.prefixes) as [DataLakePrefix, string][];
    for (const [kind, prefix] of entries) {
      v.check(PREFIX.test(prefix), kind, CONFIG_KEY[kind], `"${prefix}" must be a relative prefix ending in "/" (e.g. "data/raw/")`);
    }
    for (const [a, pa] of entries) {
      for (const [b, pb] of entries) {
        if (a < b) {
          v.check(
            !pa.startsWith(pb) && !pb.startsWith(pa),
            a,
            CONFIG_KEY[a],
            `"${pa}" overlaps ${CONFIG_KEY[b]} "${pb}": each kind of data needs its own prefix so permissions and lifecycle rules stay separate`,
          );
        }
      }
    }
  }
}
