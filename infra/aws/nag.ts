import { Stack, Validations, type App } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { flattenCfnReference } from 'cdk-nag/lib/utils/flatten-cfn-reference';
import type { IConstruct } from 'constructs';

/** Runs cdk-nag's AwsSolutions pack on every synth (cdk-nag 3 plugs into CDK's policy validation). */
export function addNagChecks(app: App): AwsSolutionsChecks {
  const pack = new AwsSolutionsChecks(app);
  Validations.of(app).addPlugins(pack);
  return pack;
}

/**
 * Actions AWS only authorises on Resource "*" (they act on no resource, or
 * the resource does not exist until the call creates it).
 */
export const ACTIONS_REQUIRING_STAR_RESOURCE: Readonly<Record<string, string>> = {
  'ec2:DescribeNetworkInterfaces': 'EC2 Describe* calls support no resource-level permissions',
  'ec2:DescribeVpcs': 'EC2 Describe* calls support no resource-level permissions',
  'ec2:DescribeDhcpOptions': 'EC2 Describe* calls support no resource-level permissions',
  'ec2:DescribeSubnets': 'EC2 Describe* calls support no resource-level permissions',
  'ec2:DescribeSecurityGroups': 'EC2 Describe* calls support no resource-level permissions',
  'cloudwatch:PutMetricData': 'PutMetricData has no resource type (limited by a cloudwatch:namespace condition)',
  'ecr:GetAuthorizationToken': 'the registry login token is account-wide; image pulls are limited to named repositories',
  'xray:PutTraceSegments': 'X-Ray accepts no resource-level permissions',
  'xray:PutTelemetryRecords': 'X-Ray accepts no resource-level permissions',
  'xray:GetSamplingRules': 'X-Ray accepts no resource-level permissions',
  'xray:GetSamplingTargets': 'X-Ray accepts no resource-level permissions',
  'logs:CreateLogDelivery': 'CloudWatch Logs vended delivery (Step Functions logging) supports only "*"',
  'logs:GetLogDelivery': 'CloudWatch Logs vended delivery (Step Functions logging) supports only "*"',
  'logs:UpdateLogDelivery': 'CloudWatch Logs vended delivery (Step Functions logging) supports only "*"',
  'logs:DeleteLogDelivery': 'CloudWatch Logs vended delivery (Step Functions logging) supports only "*"',
  'logs:ListLogDeliveries': 'CloudWatch Logs vended delivery (Step Functions logging) supports only "*"',
  'logs:PutResourcePolicy': 'CloudWatch Logs vended delivery (Step Functions logging) supports only "*"',
  'logs:DescribeResourcePolicies': 'CloudWatch Logs vended delivery (Step Functions logging) supports only "*"',
  'logs:DescribeLogGroups': 'CloudWatch Logs vended delivery (Step Functions logging) supports only "*"',
};

/** A class of wildcard IAM findings that is justified, with the reason written down. */
export interface WildcardJustification {
  /** Matches the finding, e.g. `Resource::<DataLakeBucket1234.Arn>/data/raw/*`. */
  readonly finding: RegExp;
  readonly reason: string;
}

interface PolicyStatementJson {
  Effect?: string;
  Action?: string | string[];
  Resource?: unknown;
}

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** The IAM5 findings of one policy document, in cdk-nag's `Action::x` / `Resource::y` form, with the actions behind each. */
export function wildcardFindings(document: { Statement?: PolicyStatementJson[] }): Map<string, Set<string>> {
  const findings = new Map<string, Set<string>>();
  const add = (finding: string, actions: string[]) => {
    const set = findings.get(finding) ?? new Set<string>();
    actions.forEach((a) => set.add(a));
    findings.set(finding, set);
  };
  for (const statement of document.Statement ?? []) {
    if (statement.Effect !== 'Allow') continue;
    const actions = asArray(statement.Action);
    for (const action of actions) if (action.includes('*')) add(`Action::${action}`, [action]);
    for (const resource of asArray(statement.Resource)) {
      const flat = flattenCfnReference(resource);
      if (flat.includes('*')) add(`Resource::${flat}`, actions);
    }
  }
  return findings;
}

/**
 * Acknowledges, finding by finding, the AwsSolutions-IAM5 wildcards under
 * `scope` that are justified: `Resource::*` only when every action on it is
 * one AWS authorises on "*" alone, anything else only when a justification
 * matches. Whatever is left stays an error for cdk-nag to report. Call it
 * after every grant has been made.
 * @returns the findings that stayed unacknowledged
 */
export function acknowledgeJustifiedWildcards(scope: IConstruct, justifications: readonly WildcardJustification[]): string[] {
  const unjustified: string[] = [];
  for (const node of scope.node.findAll()) {
    const documents: unknown[] = [];
    if (node instanceof iam.CfnPolicy) documents.push(node.policyDocument);
    else if (node instanceof iam.CfnRole) documents.push(...asArray(Stack.of(node).resolve(node.policies)).map((p: any) => p.policyDocument));
    else continue;
    for (const doc of documents) {
      const resolved = Stack.of(node).resolve(doc) as { Statement?: PolicyStatementJson[] };
      for (const [finding, actions] of wildcardFindings(resolved)) {
        const reason = justify(finding, actions, justifications);
        if (reason) Validations.of(node).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason });
        else unjustified.push(`${node.node.path}: ${finding}`);
      }
    }
  }
  return unjustified;
}

function justify(finding: string, actions: Set<string>, justifications: readonly WildcardJustification[]): string | undefined {
  if (finding === 'Resource::*') {
    const reasons = [...actions].map((a) => ACTIONS_REQUIRING_STAR_RESOURCE[a] && `${a}: ${ACTIONS_REQUIRING_STAR_RESOURCE[a]}`);
    return reasons.every(Boolean) ? `Resource "*" only for actions AWS authorises on "*" alone. ${reasons.join('; ')}` : undefined;
  }
  return justifications.find((j) => j.finding.test(finding))?.reason;
}
