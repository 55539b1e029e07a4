import { Construct } from 'constructs';
import { Annotations } from 'cdktf';
import { ApplicationInsights } from '@cdktf/provider-azurerm/lib/application-insights';
import { LogAnalyticsWorkspace } from '@cdktf/provider-azurerm/lib/log-analytics-workspace';
import { MachineLearningComputeCluster } from '@cdktf/provider-azurerm/lib/machine-learning-compute-cluster';
import { MachineLearningWorkspace } from '@cdktf/provider-azurerm/lib/machine-learning-workspace';
import type { WithCloud } from '../../config/schema';

export interface MlWorkspaceProps {
  /** The environment: region, azure.training sizes. */
  readonly env: WithCloud<'azure'>;
  readonly resourceGroupName: string;
  /** Resource names (azureNames(...)). */
  readonly names: { readonly logAnalytics: string; readonly appInsights: string; readonly mlWorkspace: string; readonly computeCluster: string };
  /** The storage account the workspace keeps its artifacts in. */
  readonly storageAccountId: string;
  /** The Key Vault the workspace keeps its secrets in. */
  readonly keyVaultId: string;
  /** The registry jobs pull their images from. */
  readonly containerRegistryId: string;
  /** User-assigned identity the training nodes run as. */
  readonly trainingIdentityId: string;
  /** Tags on every resource. */
  readonly tags: Record<string, string>;
}

/**
 * Log Analytics, Application Insights, the Machine Learning workspace and its
 * GPU compute cluster. Training jobs are submitted to the cluster at run time
 * (azurerm has no job resource); every cluster argument forces replacement.
 */
export class MlWorkspace extends Construct {
  readonly logs: LogAnalyticsWorkspace;
  readonly insights: ApplicationInsights;
  readonly workspace: MachineLearningWorkspace;
  readonly gpuCluster: MachineLearningComputeCluster;

  constructor(scope: Construct, id: string, props: MlWorkspaceProps) {
    super(scope, id);
    const { azure } = props.env;
    const training = azure.training;
    const location = azure.region;
    this.logs = new LogAnalyticsWorkspace(this, 'logs', {
      name: props.names.logAnalytics,
      location,
      resourceGroupName: props.resourceGroupName,
      sku: 'PerGB2018',
      retentionInDays: 30,
      tags: props.tags,
    });
    this.insights = new ApplicationInsights(this, 'insights', {
      name: props.names.appInsights,
      location,
      resourceGroupName: props.resourceGroupName,
      applicationType: 'web',
      workspaceId: this.logs.id,
      tags: props.tags,
    });
    this.workspace = new MachineLearningWorkspace(this, 'workspace', {
      name: props.names.mlWorkspace,
      location,
      resourceGroupName: props.resourceGroupName,
      applicationInsightsId: this.insights.id,
      keyVaultId: props.keyVaultId,
      storageAccountId: props.storageAccountId,
      containerRegistryId: props.containerRegistryId,
      identity: { type: 'SystemAssigned' },
      tags: props.tags,
    });
    if (training.gpu_count > 1) {
      Annotations.of(this).addWarning(`azure.training.gpu_count ${training.gpu_count}: the GPU count comes from the vm size (${training.instance_type}), not from config`);
    }
    this.gpuCluster = new MachineLearningComputeCluster(this, 'gpu-cluster', {
      name: props.names.computeCluster,
      location,
      machineLearningWorkspaceId: this.workspace.id,
      vmSize: training.instance_type,
      vmPriority: training.spot ? 'LowPriority' : 'Dedicated',
      scaleSettings: {
        minNodeCount: 0,
        maxNodeCount: training.instance_count,
        scaleDownNodesAfterIdleDuration: 'PT15M',
      },
      identity: { type: 'UserAssigned', identityIds: [props.trainingIdentityId] },
      localAuthEnabled: false,
      sshPublicAccessEnabled: false,
      description: `mlstack ${props.env.name} GPU training`,
      tags: props.tags,
    });
  }
}
