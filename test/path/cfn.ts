/**
 * Reads a synthesized CloudFormation template the way CloudFormation would hand its values to a service:
 * intrinsic functions resolved. Values CloudFormation only knows after creating a resource (ARNs, generated
 * ids) become stable stand-ins named after the resource; names set in the template (bucket names, repository
 * names) resolve to themselves, so the URIs a job is given are exactly the ones it will use.
 */
type Json = unknown;
type Obj = Record<string, Json>;

export interface Template {
  Resources: Record<string, { Type: string; Properties?: Obj }>;
}

export const ACCOUNT = '123456789012';

export interface CfnContext {
  template: Template;
  region: string;
  account?: string;
}

const NAME_PROPERTY: Record<string, string> = {
  'AWS::S3::Bucket': 'BucketName',
  'AWS::ECR::Repository': 'RepositoryName',
  'AWS::SecretsManager::Secret': 'Name',
  'AWS::SageMaker::ModelPackageGroup': 'ModelPackageGroupName',
  'AWS::SageMaker::Endpoint': 'EndpointName',
};

const SERVICE_OF: Record<string, string> = {
  'AWS::IAM::Role': 'iam',
  'AWS::KMS::Key': 'kms',
  'AWS::S3::Bucket': 's3',
  'AWS::SecretsManager::Secret': 'secretsmanager',
  'AWS::ECR::Repository': 'ecr',
  'AWS::SNS::Topic': 'sns',
  'AWS::StepFunctions::StateMachine': 'states',
  'AWS::SageMaker::ModelPackageGroup': 'sagemaker',
};

function nameOf(ctx: CfnContext, logicalId: string): string {
  const resource = ctx.template.Resources[logicalId];
  if (!resource) throw new Error(`Ref to unknown resource ${logicalId}`);
  const prop = NAME_PROPERTY[resource.Type];
  const named = prop ? resource.Properties?.[prop] : undefined;
  return named === undefined ? `${logicalId.toLowerCase()}-generated` : String(resolveCfn(named, ctx));
}

function arnOf(ctx: CfnContext, logicalId: string): string {
  const resource = ctx.template.Resources[logicalId];
  const service = SERVICE_OF[resource.Type] ?? resource.Type.split('::')[1].toLowerCase();
  const account = ctx.account ?? ACCOUNT;
  if (resource.Type === 'AWS::S3::Bucket') return `arn:aws:s3:::${nameOf(ctx, logicalId)}`;
  return `arn:aws:${service}:${ctx.region}:${account}:${resource.Type.split('::')[2].toLowerCase()}/${nameOf(ctx, logicalId)}`;
}

function getAtt(ctx: CfnContext, logicalId: string, attribute: string): string {
  const resource = ctx.template.Resources[logicalId];
  if (!resource) throw new Error(`Fn::GetAtt on unknown resource ${logicalId}`);
  if (attribute === 'Arn' || attribute.endsWith('Arn')) return arnOf(ctx, logicalId);
  if (resource.Type === 'AWS::ECR::Repository' && attribute === 'RepositoryUri') {
    return `${ctx.account ?? ACCOUNT}.dkr.ecr.${ctx.region}.amazonaws.com/${nameOf(ctx, logicalId)}`;
  }
  return `${logicalId}.${attribute}`;
}

function pseudo(ctx: CfnContext, name: string): string | undefined {
  switch (name) {
    case 'AWS::Region':
      return ctx.region;
    case 'AWS::AccountId':
      return ctx.account ?? ACCOUNT;
    case 'AWS::Partition':
      return 'aws';
    case 'AWS::URLSuffix':
      return 'amazonaws.com';
    case 'AWS::StackName':
      return 'stack';
    default:
      return undefined;
  }
}

/** Resolves Ref, Fn::GetAtt, Fn::Join, Fn::Sub, Fn::Select and Fn::Split throughout `value`. */
export function resolveCfn(value: Json, ctx: CfnContext): Json {
  if (Array.isArray(value)) return value.map((v) => resolveCfn(v, ctx));
  if (value === null || typeof value !== 'object') return value;
  const obj = value as Obj;
  const keys = Object.keys(obj);
  if (keys.length === 1) {
    const [key] = keys;
    const arg = obj[key];
    switch (key) {
      case 'Ref': {
        const name = String(arg);
        return pseudo(ctx, name) ?? nameOf(ctx, name);
      }
      case 'Fn::GetAtt': {
        const [id, attr] = Array.isArray(arg) ? (arg as string[]) : String(arg).split('.');
        return getAtt(ctx, id, attr);
      }
      case 'Fn::Join': {
        const [sep, parts] = arg as [string, Json[]];
        return (resolveCfn(parts, ctx) as Json[]).map(String).join(sep);
      }
      case 'Fn::Select': {
        const [index, list] = arg as [Json, Json];
        return (resolveCfn(list, ctx) as Json[])[Number(resolveCfn(index, ctx))];
      }
      case 'Fn::Split': {
        const [sep, text] = arg as [string, Json];
        return String(resolveCfn(text, ctx)).split(sep);
      }
      case 'Fn::Sub': {
        const [text, vars] = Array.isArray(arg) ? (arg as [string, Obj]) : [String(arg), {}];
        const resolvedVars = resolveCfn(vars, ctx) as Obj;
        return text.replace(/\$\{([^}!][^}]*)\}/g, (_, name: string) => {
          if (name in resolvedVars) return String(resolvedVars[name]);
          const p = pseudo(ctx, name);
          if (p !== undefined) return p;
          const [id, attr] = name.split('.');
          return attr ? getAtt(ctx, id, attr) : nameOf(ctx, id);
        });
      }
      default:
        break;
    }
  }
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, resolveCfn(v, ctx)]));
}

/** The resources of one type, properties resolved (as loosely typed as the template is). */
export function resourcesOfType(ctx: CfnContext, type: string): { id: string; properties: Record<string, any> }[] {
  return Object.entries(ctx.template.Resources)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => ({ id, properties: resolveCfn(r.Properties ?? {}, ctx) as Record<string, any> }));
}
