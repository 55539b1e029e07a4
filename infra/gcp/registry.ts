import { Construct } from 'constructs';
import { ArtifactRegistryRepository } from '@cdktf/provider-google/lib/artifact-registry-repository';
import { ArtifactRegistryRepositoryIamMember } from '@cdktf/provider-google/lib/artifact-registry-repository-iam-member';
import { imageRef, type ImageName } from '../../runtime/contract/images';

export interface ImageRepositoryProps {
  /** Artifact Registry repository id (gcpNames(...).artifactRepository). */
  readonly repositoryId: string;
  /** The GCP project (config `gcp.project_id`). */
  readonly projectId: string;
  /** The region the images are served from (config `gcp.region`). */
  readonly region: string;
  /** Labels on the repository. */
  readonly labels: Record<string, string>;
}

/** A regional Docker repository (Vertex AI and Cloud Run want the image in the serving region). */
export class ImageRepository extends Construct {
  readonly repository: ArtifactRegistryRepository;
  /** `<region>-docker.pkg.dev/<project>/<repository>` */
  readonly host: string;

  constructor(scope: Construct, id: string, private readonly props: ImageRepositoryProps) {
    super(scope, id);
    this.host = `${props.region}-docker.pkg.dev/${props.projectId}/${props.repositoryId}`;
    this.repository = new ArtifactRegistryRepository(this, 'repository', {
      repositoryId: props.repositoryId,
      location: props.region,
      format: 'DOCKER',
      description: 'mlstack images: ingestion, training-gpu, serving',
      labels: props.labels,
      cleanupPolicyDryRun: false,
      cleanupPolicies: [
        { id: 'delete-untagged', action: 'DELETE', condition: { tagState: 'UNTAGGED', olderThan: `${7 * 86_400}s` } },
        { id: 'keep-recent', action: 'KEEP', mostRecentVersions: { keepCount: 20 } },
      ],
    });
  }

  /** `<host>/<image>:<tag>`. */
  imageUri(name: ImageName, tag: string): string {
    return imageRef(this.host, name, tag);
  }

  /** Lets `member` pull the repository's images. */
  grantPull(id: string, member: string): ArtifactRegistryRepositoryIamMember {
    return new ArtifactRegistryRepositoryIamMember(this, id, {
      location: this.props.region,
      repository: this.repository.name,
      role: 'roles/artifactregistry.reader',
      member,
    });
  }
}
