import * as sagemakerAlpha from '@aws-cdk/aws-sagemaker-alpha';
import { Annotations, Duration, Stack } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sagemaker from 'aws-cdk-lib/aws-sagemaker';
import { Construct, type IConstruct } from 'constructs';
import { sageMakerServingEnvironment } from '../../../runtime/contract/env';
import { versionArchiveKey } from '../../../runtime/contract/layout';
import { hasInstanceStorage, isBurstableInstanceType, isSageMakerInstanceType } from '../instance-types';
import { grantSageMakerLogging, grantSageMakerVpcAccess, sageMakerExecutionRole } from '../sagemaker-iam';
import { PropsValidator } from '../validation';
import type { DataLake } from './data-lake';
import type { ImageReference } from './registry';

/** The one production variant every endpoint has. */
export const VARIANT_NAME = 'AllTraffic';

export interface EndpointAutoscaling {
  /** Fewest instances (config `aws.serving.autoscaling.min_capacity`); also the initial count. */
  readonly minCapacity: number;
  /** Most instances (config `aws.serving.autoscaling.max_capacity`). */
  readonly maxCapacity: number;
  /** Target invocations per instance per minute (config `aws.serving.autoscaling.target_value`). */
  readonly invocationsPerInstance: number;
}

export interface ModelEndpointProps {
  readonly dataLake: DataLake;
  /** The serving image; SageMaker starts it as `<image> serve` on port 8080. */
  readonly image: ImageReference;
  /**
   * The pinned model version (config `model_version`): the endpoint serves
   * `s3://<bucket>/` + versionArchiveKey (`<models><project>/<version>/<MODEL_ARCHIVE>`), the
   * archive registration writes. When null, no model or endpoint is declared and a
   * warning says so (nothing is promoted yet).
   */
  readonly modelVersion: string | null;
  /** The registry project (pipeline.json `project`) the version belongs to. */
  readonly project: string;
  /** Endpoint name, e.g. `mlstack-churn-prod` (pipeline `endpoint_name` + environment). */
  readonly endpointName: string;
  /** Serving instance type (config `aws.serving.instance_type`). */
  readonly instanceType: string;
  readonly autoscaling: EndpointAutoscaling;
  /** Share of requests captured to the bucket, 0-100 (config `aws.data_capture_percent`). @default 20 */
  readonly dataCapturePercent?: number;
  /** VPC the model containers run in. */
  readonly vpc: ec2.IVpc;
  /** @default - private subnets with egress */
  readonly vpcSubnets?: ec2.SubnetSelection;
  /** Rollback when more than this percentage of invocations fail with 5xx. @default 5 */
  readonly maxErrorRatePercent?: number;
  /** Rollback when p99 model latency exceeds this. @default Duration.seconds(1) */
  readonly maxP99Latency?: Duration;
  /** Share of the new fleet's capacity that receives traffic first during a deployment. @default 10 */
  readonly canaryPercent?: number;
  /** How long the canary is watched before all traffic shifts. @default Duration.minutes(10) */
  readonly canaryBakeTime?: Duration;
  /** Config file named in validation errors. @default - none named */
  readonly configFile?: string;
}

/** The L1 resource inside an alpha L2 (which, unlike aws-cdk-lib's L2s, sets no defaultChild). */
function l1Child<T extends IConstruct>(l2: IConstruct, type: abstract new (...args: any[]) => T): T {
  const child = l2.node.children.find((c): c is T => c instanceof type);
  if (!child) throw new Error(`${l2.node.path} has no ${type.name} child: @aws-cdk/aws-sagemaker-alpha changed its layout`);
  return child;
}

/** An image for the alpha Model whose bind() grants exactly the pull permission it needs. */
class ReferencedImage extends sagemakerAlpha.ContainerImage {
  constructor(private readonly ref: ImageReference) {
    super();
  }
  bind(_scope: Construct, model: sagemakerAlpha.Model): sagemakerAlpha.ContainerImageConfig {
    this.ref.grantPull(model);
    return { imageName: this.ref.imageUri };
  }
}

/**
 * One model archive in the data lake. Unlike ModelData.fromBucket (whose
 * bucket.grantRead grants s3:GetObject* / s3:List* on the bucket), bind()
 * grants GetObject on that one key only.
 */
class DataLakeModelData extends sagemakerAlpha.ModelData {
  constructor(
    private readonly dataLake: DataLake,
    private readonly key: string,
  ) {
    super();
  }
  bind(_scope: Construct, model: sagemakerAlpha.IModel): sagemakerAlpha.ModelDataConfig {
    this.dataLake.grantReadObject(model, this.key);
    return { uri: this.dataLake.objectUri(this.key) };
  }
}

/**
 * A real-time SageMaker endpoint for the pinned model version: data capture
 * to the bucket, target-tracking autoscaling on invocations per instance,
 * and blue/green deployments that shift a canary first and roll back on
 * the 5xx-rate and p99-latency alarms.
 *
 * Built on @aws-cdk/aws-sagemaker-alpha's Model/EndpointConfig/Endpoint;
 * data capture, deployment guardrails and RetainAllVariantProperties
 * (aws-cdk #23150, #23152, #23151) are set on the L1 resources.
 */
export class ModelEndpoint extends Construct {
  /** Undefined when no model version is pinned. */
  readonly model?: sagemakerAlpha.Model;
  readonly endpointConfig?: sagemakerAlpha.EndpointConfig;
  readonly endpoint?: sagemakerAlpha.Endpoint;
  readonly scalableTarget?: appscaling.ScalableTarget;
  /** The alarms that roll a deployment back; empty when no endpoint is declared. */
  readonly rollbackAlarms: cloudwatch.Alarm[] = [];
  readonly role: iam.Role;
  readonly endpointName: string;
  /** The archive the model loads (versionArchiveKey); undefined when no version is pinned. */
  readonly modelDataKey?: string;

  constructor(scope: Construct, id: string, props: ModelEndpointProps) {
    super(scope, id);
    this.validate(props);
    this.endpointName = props.endpointName;
    const { dataLake } = props;

    this.role = sageMakerExecutionRole(this, 'ModelRole', `SageMaker model for ${props.endpointName}`);
    if (props.modelVersion === null) {
      Annotations.of(this).addWarningV2(
        '@mlstack/aws:noPinnedModel',
        `No model_version is pinned for this environment, so endpoint ${props.endpointName} is not declared. ` +
          'Run `mlstack promote --model <version> --to <env>` and deploy again.',
      );
      return;
    }

    const modelDataKey = versionArchiveKey(dataLake.prefixes, props.project, props.modelVersion);
    this.modelDataKey = modelDataKey;
    const subnets = props.vpc.selectSubnets(props.vpcSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }).subnets;
    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: `SageMaker model containers of ${props.endpointName}`,
      allowAllOutbound: true,
    });
    grantSageMakerLogging(this, this.role, 'Endpoints');
    grantSageMakerVpcAccess(this.role, props.vpc, subnets, [securityGroup]);
    dataLake.grantWrite(this.role, 'dataCapture');

    this.model = new sagemakerAlpha.Model(this, 'Model', {
      role: this.role,
      vpc: props.vpc,
      vpcSubnets: { subnets },
      securityGroups: [securityGroup],
      containers: [
        {
          image: new ReferencedImage(props.image),
          modelData: new DataLakeModelData(dataLake, modelDataKey),
          environment: sageMakerServingEnvironment(props.modelVersion),
        },
      ],
    });

    const minCapacity = props.autoscaling.minCapacity;
    this.endpointConfig = new sagemakerAlpha.EndpointConfig(this, 'EndpointConfig', {
      // CreateEndpointConfig rejects a KmsKeyId for instance types with local storage (encrypted in hardware).
      encryptionKey: hasInstanceStorage(props.instanceType) ? undefined : dataLake.encryptionKey,
      instanceProductionVariants: [
        {
          model: this.model,
          variantName: VARIANT_NAME,
          instanceType: sagemakerAlpha.InstanceType.of(props.instanceType),
          initialInstanceCount: minCapacity,
        },
      ],
    });
    const cfnConfig = l1Child(this.endpointConfig, sagemaker.CfnEndpointConfig);
    cfnConfig.dataCaptureConfig = {
      enableCapture: (props.dataCapturePercent ?? 20) > 0,
      initialSamplingPercentage: props.dataCapturePercent ?? 20,
      destinationS3Uri: dataLake.s3Uri('dataCapture', `${props.endpointName}/`),
      kmsKeyId: dataLake.encryptionKey.keyArn,
      captureOptions: [{ captureMode: 'Input' }, { captureMode: 'Output' }],
      captureContentTypeHeader: { jsonContentTypes: ['application/json'], csvContentTypes: ['text/csv'] },
    };

    this.endpoint = new sagemakerAlpha.Endpoint(this, 'Endpoint', {
      endpointName: props.endpointName,
      endpointConfig: this.endpointConfig,
    });

    const dimensionsMap = { EndpointName: props.endpointName, VariantName: VARIANT_NAME };
    const invocations = new cloudwatch.Metric({ namespace: 'AWS/SageMaker', metricName: 'Invocations', dimensionsMap, statistic: 'Sum', period: Duration.minutes(1) });
    const errors = new cloudwatch.Metric({ namespace: 'AWS/SageMaker', metricName: 'Invocation5XXErrors', dimensionsMap, statistic: 'Sum', period: Duration.minutes(1) });
    const errorRate = new cloudwatch.MathExpression({
      expression: 'IF(invocations > 0, 100 * errors / invocations, 0)',
      usingMetrics: { invocations, errors },
      label: '5xx error rate (%)',
      period: Duration.minutes(1),
    });
    const p99Latency = new cloudwatch.Metric({
      namespace: 'AWS/SageMaker',
      metricName: 'ModelLatency',
      dimensionsMap,
      statistic: 'p99',
      period: Duration.minutes(1),
      label: 'p99 model latency (microseconds)',
    });
    const maxLatency = props.maxP99Latency ?? Duration.seconds(1);
    this.rollbackAlarms.push(
      errorRate.createAlarm(this, 'ErrorRateAlarm', {
        alarmDescription: `${props.endpointName}: more than ${props.maxErrorRatePercent ?? 5}% of invocations fail with 5xx (rolls a deployment back)`,
        threshold: props.maxErrorRatePercent ?? 5,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      p99Latency.createAlarm(this, 'LatencyAlarm', {
        alarmDescription: `${props.endpointName}: p99 model latency above ${maxLatency.toMilliseconds()} ms (rolls a deployment back)`,
        // ModelLatency is reported in microseconds.
        threshold: maxLatency.toMilliseconds() * 1000,
        evaluationPeriods: 3,
        datapointsToAlarm: 2,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );

    const cfnEndpoint = l1Child(this.endpoint, sagemaker.CfnEndpoint);
    // aws-cdk #23151: without this, replacing the endpoint config resets the autoscaled instance count.
    cfnEndpoint.retainAllVariantProperties = true;
    cfnEndpoint.deploymentConfig = {
      blueGreenUpdatePolicy: {
        trafficRoutingConfiguration: {
          type: 'CANARY',
          canarySize: { type: 'CAPACITY_PERCENT', value: props.canaryPercent ?? 10 },
          waitIntervalInSeconds: (props.canaryBakeTime ?? Duration.minutes(10)).toSeconds(),
        },
        terminationWaitInSeconds: 600,
        maximumExecutionTimeoutInSeconds: 3600,
      },
      autoRollbackConfiguration: { alarms: this.rollbackAlarms.map((a) => ({ alarmName: a.alarmName })) },
    };

    // Target tracking on SageMakerVariantInvocationsPerInstance with the exact
    // configured target; the alpha scaleOnInvocations() derives it from
    // requests per second (x 60 x safety factor), which cannot express it exactly.
    this.scalableTarget = new appscaling.ScalableTarget(this, 'ScalableTarget', {
      serviceNamespace: appscaling.ServiceNamespace.SAGEMAKER,
      resourceId: `endpoint/${props.endpointName}/variant/${VARIANT_NAME}`,
      scalableDimension: 'sagemaker:variant:DesiredInstanceCount',
      minCapacity,
      maxCapacity: props.autoscaling.maxCapacity,
      // Application Auto Scaling acts through its service-linked role (created on first use);
      // without this CDK would declare an empty role that cannot update the endpoint.
      role: iam.Role.fromRoleArn(
        this,
        'ScalingRole',
        Stack.of(this).formatArn({
          service: 'iam',
          region: '',
          resource: 'role',
          resourceName: 'aws-service-role/sagemaker.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint',
        }),
      ),
    });
    this.scalableTarget.node.addDependency(this.endpoint);
    this.scalableTarget.scaleToTrackMetric('InvocationsPerInstance', {
      predefinedMetric: appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
      targetValue: props.autoscaling.invocationsPerInstance,
      scaleInCooldown: Duration.minutes(5),
      scaleOutCooldown: Duration.minutes(1),
    });
  }

  /** Dashboard widgets for the endpoint (empty when none is declared). */
  widgets(): cloudwatch.IWidget[] {
    if (!this.endpoint) return [];
    const titles = ['5xx error rate (%)', 'p99 model latency (us)'];
    return this.rollbackAlarms.map((alarm, i) => new cloudwatch.AlarmWidget({ alarm, title: `${this.endpointName}: ${titles[i]}`, width: 12 }));
  }

  /** Lets the grantee call InvokeEndpoint on this endpoint. */
  grantInvoke(grantee: iam.IGrantable): iam.Grant {
    const arn = this.endpoint ? this.endpoint.endpointArn : `arn:aws:sagemaker:*:*:endpoint/${this.endpointName}`;
    return iam.Grant.addToPrincipal({ grantee, actions: ['sagemaker:InvokeEndpoint'], resourceArns: [arn] });
  }

  private validate(props: ModelEndpointProps): void {
    const v = new PropsValidator(this, props.configFile);
    const type = props.instanceType;
    v.check(isSageMakerInstanceType(type), 'instanceType', 'aws.serving.instance_type', `"${type}" is not a SageMaker instance type such as ml.c6i.large`);
    v.check(
      !isBurstableInstanceType(type),
      'instanceType',
      'aws.serving.instance_type',
      `"${type}" is a burstable ml.t* type, which SageMaker cannot autoscale; use e.g. ml.c6i.large`,
    );
    const { minCapacity, maxCapacity, invocationsPerInstance } = props.autoscaling;
    v.check(Number.isInteger(minCapacity) && minCapacity >= 1, 'autoscaling.minCapacity', 'aws.serving.autoscaling.min_capacity', `a real-time endpoint needs at least 1 instance, found ${minCapacity}`);
    v.check(Number.isInteger(maxCapacity) && maxCapacity >= 1, 'autoscaling.maxCapacity', 'aws.serving.autoscaling.max_capacity', `must be a whole number >= 1, found ${maxCapacity}`);
    v.check(minCapacity <= maxCapacity, 'autoscaling.minCapacity', 'aws.serving.autoscaling.min_capacity', `min_capacity (${minCapacity}) must be <= max_capacity (${maxCapacity})`);
    v.check(invocationsPerInstance > 0, 'autoscaling.invocationsPerInstance', 'aws.serving.autoscaling.target_value', `must be > 0, found ${invocationsPerInstance}`);
    const capture = props.dataCapturePercent ?? 20;
    v.check(Number.isInteger(capture) && capture >= 0 && capture <= 100, 'dataCapturePercent', 'aws.data_capture_percent', `must be 0-100, found ${capture}`);
    const canary = props.canaryPercent ?? 10;
    v.check(canary >= 1 && canary <= 50, 'canaryPercent', 'canaryPercent', `SageMaker canaries take 1-50% of capacity, found ${canary}`);
    v.check(/^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$/.test(props.endpointName), 'endpointName', 'endpoint_name (pipeline.json) + environment', `"${props.endpointName}" is not a valid endpoint name (letters, digits, dashes, at most 63)`);
    if (props.modelVersion !== null) {
      v.check(/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(props.modelVersion), 'modelVersion', 'model_version', `"${props.modelVersion}" must be letters, digits, ".", "_" and "-" (it is a folder under ${props.dataLake.prefixes.models}${props.project}/)`);
    }
    v.throwIfInvalid();
  }
}
