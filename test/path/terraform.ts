/**
 * Reads a synthesized cdktf stack (cdk.tf.json) the way the platform receives it after `terraform apply`:
 * each container's image, args and env, with Terraform references (`${type.name.attr}`) replaced by stand-ins
 * named after the reference (the values Terraform would fill in, e.g. an identity's client id).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

type Obj = Record<string, any>;

export interface TerraformJson {
  resource: Record<string, Record<string, Obj>>;
}

export function readStack(outdir: string, stack: string): TerraformJson {
  return JSON.parse(fs.readFileSync(path.join(outdir, 'stacks', stack, 'cdk.tf.json'), 'utf8')) as TerraformJson;
}

/** The stand-in Terraform would produce for `${type.name.attr}`. */
export function referenceStandIn(reference: string): string {
  return `tf-${reference.replace(/[^A-Za-z0-9]+/g, '-')}`;
}

/** A subscription id for the Azure resource ids the stand-ins build. */
export const SUBSCRIPTION = '00000000-0000-0000-0000-00000000c0de';

/**
 * What Terraform fills in for a reference once the resource exists: the attributes whose format the runtime
 * checks (Azure resource ids, a registry's login server) are built the way Azure builds them from the resource's
 * own arguments; any other attribute gets a stand-in named after the reference.
 */
export function resolveReferences(value: string, tf?: TerraformJson): string {
  return value.replace(/\$\{([^}]+)\}/g, (_, ref: string) => (tf && azureAttribute(tf, ref)) ?? referenceStandIn(ref));
}

const AZURE_PROVIDERS: Record<string, string> = {
  azurerm_machine_learning_workspace: 'Microsoft.MachineLearningServices/workspaces',
  azurerm_user_assigned_identity: 'Microsoft.ManagedIdentity/userAssignedIdentities',
  azurerm_container_registry: 'Microsoft.ContainerRegistry/registries',
};

function azureAttribute(tf: TerraformJson, ref: string): string | undefined {
  const [type, name, attribute] = ref.split('.');
  const body = tf.resource[type]?.[name];
  if (!body) return undefined;
  if (type === 'azurerm_resource_group' && attribute === 'name') return body.name;
  if (type === 'azurerm_container_registry' && attribute === 'login_server') return `${String(body.name).toLowerCase()}.azurecr.io`;
  if (attribute === 'id' && AZURE_PROVIDERS[type]) {
    const group = resolveReferences(String(body.resource_group_name), tf);
    return `/subscriptions/${SUBSCRIPTION}/resourceGroups/${group}/providers/${AZURE_PROVIDERS[type]}/${body.name}`;
  }
  return undefined;
}

export function resourcesOf(tf: TerraformJson, type: string): { name: string; body: Obj }[] {
  return Object.entries(tf.resource[type] ?? {}).map(([name, body]) => ({ name, body }));
}

/** The one resource of `type` whose `name` attribute is `resourceName`. */
export function resourceNamed(tf: TerraformJson, type: string, resourceName: string): Obj {
  const found = resourcesOf(tf, type).filter((r) => r.body.name === resourceName);
  if (found.length !== 1) throw new Error(`expected one ${type} named ${resourceName}, found ${found.length}`);
  return found[0].body;
}

export interface DeclaredContainer {
  image: string;
  args: string[];
  /** Plain variables, references resolved. */
  env: Record<string, string>;
  /** Variable -> the secret it is filled from (GCP secret id or Container Apps secret name). */
  secretEnv: Record<string, string>;
}

type EnvEntry = { name: string; value?: string; value_source?: { secret_key_ref?: { secret: string } }; secret_name?: string };

function declaredContainer(container: Obj, tf?: TerraformJson): DeclaredContainer {
  const env: Record<string, string> = {};
  const secretEnv: Record<string, string> = {};
  for (const entry of (container.env ?? []) as EnvEntry[]) {
    if (entry.value !== undefined) env[entry.name] = resolveReferences(entry.value, tf);
    else if (entry.value_source?.secret_key_ref) secretEnv[entry.name] = entry.value_source.secret_key_ref.secret;
    else if (entry.secret_name) secretEnv[entry.name] = entry.secret_name;
    else throw new Error(`env ${entry.name} has neither a value nor a secret`);
  }
  return { image: resolveReferences(container.image, tf), args: container.args ?? [], env, secretEnv };
}

/** google_cloud_run_v2_job / _service: template(.template).containers[0]. */
export function cloudRunContainer(resource: Obj): DeclaredContainer {
  const template = resource.template.template ?? resource.template;
  const containers = template.containers as Obj[];
  if (containers.length !== 1) throw new Error(`expected one container, found ${containers.length}`);
  return declaredContainer(containers[0]);
}

/** azurerm_container_app / _job: template.container[0], references resolved against the stack. */
export function containerAppContainer(resource: Obj, tf: TerraformJson): DeclaredContainer {
  const containers = resource.template.container as Obj[];
  if (containers.length !== 1) throw new Error(`expected one container, found ${containers.length}`);
  return declaredContainer(containers[0], tf);
}
