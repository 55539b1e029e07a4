import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';

/** A new role SageMaker assumes to run one kind of job. */
export function sageMakerExecutionRole(scope: Construct, id: string, description: string): iam.Role {
  return new iam.Role(scope, id, {
    assumedBy: new iam.ServicePrincipal('sagemaker.amazonaws.com'),
    description,
  });
}

/**
 * Lets a SageMaker job write its CloudWatch logs and metrics.
 * @param logGroupKind e.g. `TrainingJobs`, `ProcessingJobs`, `Endpoints`
 */
export function grantSageMakerLogging(scope: Construct, role: iam.IGrantable, logGroupKind: string): void {
  const stack = Stack.of(scope);
  iam.Grant.addToPrincipal({
    grantee: role,
    actions: ['logs:CreateLogGroup', 'logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
    resourceArns: [
      stack.formatArn({ service: 'logs', resource: 'log-group', resourceName: `/aws/sagemaker/${logGroupKind}*`, arnFormat: ArnFormat.COLON_RESOURCE_NAME }),
    ],
  });
  iam.Grant.addToPrincipal({
    grantee: role,
    actions: ['cloudwatch:PutMetricData'],
    resourceArns: ['*'],
    conditions: { StringLike: { 'cloudwatch:namespace': ['/aws/sagemaker/*', 'mlstack/*'] } },
  });
}

/**
 * Lets a SageMaker job attach network interfaces in the given subnets and
 * security groups (what VpcConfig needs). The ec2:Describe* calls accept no
 * resource narrower than "*".
 */
export function grantSageMakerVpcAccess(role: iam.IGrantable, vpc: ec2.IVpc, subnets: ec2.ISubnet[], securityGroups: ec2.ISecurityGroup[]): void {
  const stack = Stack.of(vpc);
  const eniArn = stack.formatArn({ service: 'ec2', resource: 'network-interface', resourceName: '*' });
  iam.Grant.addToPrincipal({
    grantee: role,
    actions: ['ec2:CreateNetworkInterface'],
    resourceArns: [
      eniArn,
      ...subnets.map((s) => stack.formatArn({ service: 'ec2', resource: 'subnet', resourceName: s.subnetId })),
      ...securityGroups.map((g) => stack.formatArn({ service: 'ec2', resource: 'security-group', resourceName: g.securityGroupId })),
    ],
  });
  iam.Grant.addToPrincipal({
    grantee: role,
    actions: ['ec2:CreateNetworkInterfacePermission', 'ec2:DeleteNetworkInterface', 'ec2:DeleteNetworkInterfacePermission'],
    resourceArns: [eniArn],
    conditions: { StringEquals: { 'ec2:Vpc': stack.formatArn({ service: 'ec2', resource: 'vpc', resourceName: vpc.vpcId }) } },
  });
  iam.Grant.addToPrincipal({
    grantee: role,
    actions: ['ec2:DescribeNetworkInterfaces', 'ec2:DescribeVpcs', 'ec2:DescribeDhcpOptions', 'ec2:DescribeSubnets', 'ec2:DescribeSecurityGroups'],
    resourceArns: ['*'],
  });
}

/** Lets Step Functions pass a SageMaker execution role to SageMaker (and nothing else). */
export function grantPassRoleToSageMaker(grantee: iam.IGrantable, ...roles: iam.IRole[]): iam.Grant {
  return iam.Grant.addToPrincipal({
    grantee,
    actions: ['iam:PassRole'],
    resourceArns: roles.map((r) => r.roleArn),
    conditions: { StringEquals: { 'iam:PassedToService': 'sagemaker.amazonaws.com' } },
  });
}

/**
 * What a `.sync` SageMaker integration needs: the job actions on jobs named
 * with the prefix, and the managed EventBridge rule Step Functions polls with.
 */
export function grantSageMakerSyncJob(
  grantee: iam.IGrantable,
  scope: Construct,
  job: { resource: 'training-job' | 'processing-job' | 'hyper-parameter-tuning-job'; actions: string[]; namePrefix: string; ruleName: string },
): void {
  const stack = Stack.of(scope);
  iam.Grant.addToPrincipal({
    grantee,
    actions: [...job.actions, 'sagemaker:AddTags'],
    resourceArns: [stack.formatArn({ service: 'sagemaker', resource: job.resource, resourceName: `${job.namePrefix}*` })],
  });
  iam.Grant.addToPrincipal({
    grantee,
    actions: ['events:PutTargets', 'events:PutRule', 'events:DescribeRule'],
    resourceArns: [stack.formatArn({ service: 'events', resource: 'rule', resourceName: job.ruleName })],
  });
}
