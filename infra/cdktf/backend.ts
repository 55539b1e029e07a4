import { AzurermBackend, GcsBackend, LocalBackend, type TerraformStack } from 'cdktf';
import { ENV } from '../../runtime/contract/env';

/**
 * State backend for one stack. Local files by default (`terraform.<stack>.tfstate`
 * in the project root); a team sets one of these variables before `cdktf deploy`:
 *   MLSTACK_TF_GCS_BUCKET=<bucket>                      -> GCS backend, prefix mlstack/<stack>
 *   MLSTACK_TF_AZURE_STATE=<resource group>/<account>/<container> -> azurerm backend, key mlstack/<stack>.tfstate
 */
export type BackendChoice =
  | { kind: 'local'; path: string }
  | { kind: 'gcs'; bucket: string; prefix: string }
  | { kind: 'azurerm'; resourceGroupName: string; storageAccountName: string; containerName: string; key: string };

export function chooseBackend(stackName: string, env: NodeJS.ProcessEnv = process.env): BackendChoice {
  const gcsBucket = env[ENV.tfGcsBucket]?.trim();
  const azureState = env[ENV.tfAzureState]?.trim();
  if (gcsBucket && stackName.startsWith('gcp-')) return { kind: 'gcs', bucket: gcsBucket, prefix: `mlstack/${stackName}` };
  if (azureState && stackName.startsWith('azure-')) {
    const parts = azureState.split('/');
    if (parts.length !== 3 || parts.some((p) => p.length === 0)) {
      throw new Error(
        `${ENV.tfAzureState}="${azureState}": expected <resource group>/<storage account>/<container>, e.g. tfstate-rg/mlstacktfstate/tfstate`,
      );
    }
    const [resourceGroupName, storageAccountName, containerName] = parts as [string, string, string];
    return { kind: 'azurerm', resourceGroupName, storageAccountName, containerName, key: `mlstack/${stackName}.tfstate` };
  }
  return { kind: 'local', path: `terraform.${stackName}.tfstate` };
}

export function applyBackend(stack: TerraformStack, choice: BackendChoice): void {
  switch (choice.kind) {
    case 'gcs':
      new GcsBackend(stack, { bucket: choice.bucket, prefix: choice.prefix });
      break;
    case 'azurerm':
      new AzurermBackend(stack, {
        resourceGroupName: choice.resourceGroupName,
        storageAccountName: choice.storageAccountName,
        containerName: choice.containerName,
        key: choice.key,
        useAzureadAuth: true,
      });
      break;
    case 'local':
      new LocalBackend(stack, { path: choice.path });
      break;
  }
}
