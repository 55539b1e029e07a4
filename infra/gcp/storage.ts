import { Construct } from 'constructs';
import { StorageBucket } from '@cdktf/provider-google/lib/storage-bucket';
import { StorageBucketIamMember } from '@cdktf/provider-google/lib/storage-bucket-iam-member';
import type { WithCloud } from '../../config/schema';

export interface DataBucketProps {
  /** Bucket name (config `gcp.storage.bucket`). */
  readonly name: string;
  /** The environment: region, gcp.storage prefixes, retain_on_delete. */
  readonly env: WithCloud<'gcp'>;
  /** Labels on the bucket. */
  readonly labels: Record<string, string>;
}

/**
 * The environment's one data bucket: raw, processed, models, checkpoints,
 * registry and state live under prefixes (runtime/contract/layout.ts), so access is
 * granted per prefix with IAM conditions rather than per bucket.
 */
export class DataBucket extends Construct {
  readonly bucket: StorageBucket;

  constructor(scope: Construct, id: string, private readonly props: DataBucketProps) {
    super(scope, id);
    const { env } = props;
    const storage = env.gcp.storage;
    this.bucket = new StorageBucket(this, 'bucket', {
      name: props.name,
      location: env.gcp.region,
      storageClass: 'STANDARD',
      uniformBucketLevelAccess: true,
      publicAccessPrevention: 'enforced',
      versioning: { enabled: true },
      forceDestroy: !env.retain_on_delete,
      labels: props.labels,
      lifecycleRule: [
        // Checkpoints only matter while a training run can resume.
        { action: { type: 'Delete' }, condition: { age: 30, matchesPrefix: [storage.checkpoints_path] } },
        // Raw pages are re-derivable from processed data after a quarter; keep them cheaper meanwhile.
        { action: { type: 'SetStorageClass', storageClass: 'NEARLINE' }, condition: { age: 30, matchesPrefix: [storage.raw_path] } },
        // Versioning keeps overwritten objects: drop noncurrent versions after 30 days, keep at most 3.
        { action: { type: 'Delete' }, condition: { daysSinceNoncurrentTime: 30, withState: 'ARCHIVED' } },
        { action: { type: 'Delete' }, condition: { numNewerVersions: 3, withState: 'ARCHIVED' } },
      ],
    });
  }

  /**
   * Grants `role` on objects under `prefixes` only. Listing is checked on the
   * bucket itself, so the condition also admits the bucket resource (object
   * names become listable, contents outside the prefixes do not).
   */
  grantPrefixes(id: string, member: string, role: 'roles/storage.objectViewer' | 'roles/storage.objectUser', prefixes: string[]): StorageBucketIamMember {
    const objectPath = (prefix: string) => `projects/_/buckets/${this.props.name}/objects/${prefix}`;
    const expression = [
      'resource.type == "storage.googleapis.com/Bucket"',
      ...prefixes.map((p) => `resource.name.startsWith("${objectPath(p)}")`),
    ].join(' || ');
    return new StorageBucketIamMember(this, id, {
      bucket: this.bucket.name,
      member,
      role,
      condition: { title: `${id} prefixes`, description: `only ${prefixes.join(', ')}`, expression },
    });
  }
}
