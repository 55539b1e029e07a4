import { Construct } from 'constructs';
import { RoleAssignment } from '@cdktf/provider-azurerm/lib/role-assignment';
import { StorageAccount } from '@cdktf/provider-azurerm/lib/storage-account';
import { StorageContainer } from '@cdktf/provider-azurerm/lib/storage-container';
import { StorageManagementPolicy } from '@cdktf/provider-azurerm/lib/storage-management-policy';
import type { WithCloud } from '../../config/schema';

export interface DataLakeProps {
  /** Storage account name (config `azure.storage.bucket`). */
  readonly accountName: string;
  /** The one data container (config `azure.storage.container`). */
  readonly containerName: string;
  readonly resourceGroupName: string;
  /** The environment: region, azure.storage prefixes, retain_on_delete. */
  readonly env: WithCloud<'azure'>;
  /** Tags on the account. */
  readonly tags: Record<string, string>;
}

const BLOB = 'Microsoft.Storage/storageAccounts/blobServices/containers/blobs';
const BLOB_PATH = `@Resource[${BLOB}:path]`;

export type BlobDataRole = 'Storage Blob Data Reader' | 'Storage Blob Data Contributor';

/**
 * ABAC condition limiting a blob data role to `prefixes` inside its container:
 * blob reads, writes and deletes must match a prefix; listing stays allowed
 * because a list call carries no blob path.
 */
export function prefixCondition(role: BlobDataRole, prefixes: string[]): string {
  const actions = role === 'Storage Blob Data Reader' ? ['read'] : ['read', 'write', 'add/action', 'delete'];
  const denied = actions
    .map((a) =>
      a === 'read'
        ? `!(ActionMatches{'${BLOB}/read'} AND NOT SubOperationMatches{'Blob.List'})`
        : `!(ActionMatches{'${BLOB}/${a}'})`,
    )
    .join(' AND ');
  const allowed = prefixes.map((p) => `${BLOB_PATH} StringStartsWith '${p}'`).join(' OR ');
  return `((${denied}) OR (${allowed}))`;
}

/**
 * The storage account and the one data container the runtime addresses
 * (raw, processed, models, checkpoints, registry and state are prefixes in it,
 * see runtime/contract/layout.ts); roles are granted on the container, narrowed to
 * prefixes with conditions.
 */
export class DataLake extends Construct {
  readonly account: StorageAccount;
  readonly container: StorageContainer;

  constructor(scope: Construct, id: string, props: DataLakeProps) {
    super(scope, id);
    const { env } = props;
    const storage = env.azure.storage;
    this.account = new StorageAccount(this, 'account', {
      name: props.accountName,
      resourceGroupName: props.resourceGroupName,
      location: env.azure.region,
      accountTier: 'Standard',
      accountKind: 'StorageV2',
      accountReplicationType: env.retain_on_delete ? 'ZRS' : 'LRS',
      minTlsVersion: 'TLS1_2',
      httpsTrafficOnlyEnabled: true,
      allowNestedItemsToBePublic: false,
      defaultToOauthAuthentication: true,
      crossTenantReplicationEnabled: false,
      tags: props.tags,
      blobProperties: {
        versioningEnabled: true,
        deleteRetentionPolicy: { days: 7 },
        containerDeleteRetentionPolicy: { days: 7 },
      },
    });
    this.container = new StorageContainer(this, 'container', {
      name: props.containerName,
      storageAccountId: this.account.id,
      containerAccessType: 'private',
    });
    const inContainer = (prefix: string) => `${props.containerName}/${prefix}`;
    new StorageManagementPolicy(this, 'lifecycle', {
      storageAccountId: this.account.id,
      rule: [
        {
          name: 'expire-checkpoints',
          enabled: true,
          filters: { blobTypes: ['blockBlob'], prefixMatch: [inContainer(storage.checkpoints_path)] },
          actions: { baseBlob: { deleteAfterDaysSinceModificationGreaterThan: 30 } },
        },
        {
          name: 'cool-raw',
          enabled: true,
          filters: { blobTypes: ['blockBlob'], prefixMatch: [inContainer(storage.raw_path)] },
          actions: { baseBlob: { tierToCoolAfterDaysSinceModificationGreaterThan: 30 } },
        },
        {
          name: 'expire-old-versions',
          enabled: true,
          filters: { blobTypes: ['blockBlob'] },
          actions: { version: { deleteAfterDaysSinceCreation: 30 } },
        },
      ],
    });
  }

  /** Grants a blob data role on the container, limited to `prefixes`. */
  grantPrefixes(id: string, principalId: string, role: BlobDataRole, prefixes: string[]): RoleAssignment {
    return new RoleAssignment(this, id, {
      scope: this.container.id,
      roleDefinitionName: role,
      principalId,
      principalType: 'ServicePrincipal',
      condition: prefixCondition(role, prefixes),
      conditionVersion: '2.0',
      description: `${role} on ${prefixes.join(', ')}`,
    });
  }
}
