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
import { PropsValidator, sageMakerNamePattern } from '../validation';
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
  /** The data lake holding the model archive and receiving captured requests. */
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
  /** Instance counts and the scaling target. */
  readonly autoscaling: EndpointAutoscaling;
  /** Share of requests captured to the bucket, 0-100 (config `aws.data_capture_percent`). @default 20 */
  readonly dataCapturePercent?: number;
  /** VPC the model containers run in. */
  readonly vpc: ec2.IVpc;
  /** Subnets the model containers run in. @default - private subnets with egress */
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

/** What ModelEndpoint uses for each omitted prop; its validation checks the same values. */
export const MODEL_ENDPOINT_DEFAULTS = {
  dataCapturePercent: 20,
  vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } as ec2.SubnetSelection,
  maxErrorRatePercent: 5,
  maxP99Latency: Duration.seconds(1),
  canaryPercent: 10,
  canaryBakeTime: Duration.minutes(10),
} as const;

/** Period and statistic of the endpoint's metrics unless a metricX() call says otherwise. */
export const ENDPOINT_METRIC_DEFAULTS = { period: Duration.minutes(1), statistic: 'Sum' } as const;

/** How a rollback alarm fires: 2 of 3 one-minute periods over its threshold; no data is no breach. */
const ROLLBACK_ALARM = {
  evaluationPeriods: 3,
  datapointsToAlarm: 2,
  comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
  treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
} as const;

/** Blue/green limits SageMaker applies to every deployment of the endpoint. */
const DEPLOYMENT = { terminationWait: Duration.minutes(10), maximumExecutionTimeout: Duration.hours(1) } as const;

const ENDPOINT_NAME = sageMakerNamePattern(63);
const MODEL_VERSION = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

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
    this.role = sageMakerExecutionRole(this, 'ModelRole', `SageMaker model for ${props.endpointName}`);
    if (props.modelVersion === null) {
      this.warnNoPinnedModel();
      return;
    }
    this.modelDataKey = versionArchiveKey(props.dataLake.prefixes, props.modelVersion);
    this.model = this.createModel(props, props.modelVersion, this.modelDataKey);
    this.endpointConfig = this.createEndpointConfig(props, this.model);
    this.endpoint = new sagemakerAlpha.Endpoint(this, 'Endpoint', { endpointName: props.endpointName, endpointConfig: this.endpointConfig });
    this.rollbackAlarms.push(this.createErrorRateAlarm(props), this.createLatencyAlarm(props));
    this.configureDeployments(props, this.endpoint);
    this.scalableTarget = this.createAutoscaling(props, this.endpoint);
  }

  /**
   * A metric of the endpoint's one variant in the AWS/SageMaker namespace, by name.
   * @default - ENDPOINT_METRIC_DEFAULTS: the sum over one minute
   */
  metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'AWS/SageMaker',
      metricName,
      dimensionsMap: { EndpointName: this.endpointName, VariantName: VARIANT_NAME },
      ...ENDPOINT_METRIC_DEFAULTS,
      ...props,
    });
  }

  /** Requests the model answered or failed. @default - sum over one minute */
  metricInvocations(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('Invocations', props);
  }

  /** Requests per instance: what autoscaling tracks. @default - sum over one minute */
  metricInvocationsPerInstance(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('InvocationsPerInstance', props);
  }

  /** Requests answered 4xx (bad input). @default - sum over one minute */
  metricInvocation4XXErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('Invocation4XXErrors', props);
  }

  /** Requests answered 5xx (the model failed). @default - sum over one minute */
  metricInvocation5XXErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('Invocation5XXErrors', props);
  }

  /** Time the model container took to answer, in microseconds. @default - average over one minute */
  metricModelLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('ModelLatency', { statistic: 'Average', ...props });
  }

  /** Time SageMaker added around the model, in microseconds. @default - average over one minute */
  metricOverheadLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('OverheadLatency', { statistic: 'Average', ...props });
  }

  /** The share of invocations answered 5xx, in percent (0 without invocations). @default - over one minute */
  metricErrorRate(props?: cloudwatch.MathExpressionOptions): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({
      expression: 'IF(invocations > 0, 100 * errors / invocations, 0)',
      usingMetrics: { invocations: this.metricInvocations(), errors: this.metricInvocation5XXErrors() },
      label: '5xx error rate (%)',
      period: ENDPOINT_METRIC_DEFAULTS.period,
      ...props,
    });
  }

  /** Dashboard widgets for the endpoint: its rollback alarms (empty when none is declared). */
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

  private warnNoPinnedModel(): void {
    Annotations.of(this).addWarningV2(
      '@mlstack/aws:noPinnedModel',
      `No model_version is pinned for this environment, so endpoint ${this.endpointName} is not declared. ` +
        'Run `mlstack promote --model <version> --to <env>` and deploy again.',
    );
  }

  /** The model: the serving image with the version's archive, in the VPC, capturing to the data lake. */
  private createModel(props: ModelEndpointProps, modelVersion: string, modelDataKey: string): sagemakerAlpha.Model {
    const subnets = props.vpc.selectSubnets(props.vpcSubnets ?? MODEL_ENDPOINT_DEFAULTS.vpcSubnets).subnets;
    const securityGroup = new ec2.SecurityGroup(this, 'SecurityGroup', {
      vpc: props.vpc,
      description: `SageMaker model containers of ${props.endpointName}`,
      allowAllOutbound: true,
    });
    grantSageMakerLogging(this, this.role, 'Endpoints');
    grantSageMakerVpcAccess(this.role, props.vpc, subnets, [securityGroup]);
    props.dataLake.grantWrite(this.role, 'dataCapture');
    return new sagemakerAlpha.Model(this, 'Model', {
      role: this.role,
      vpc: props.vpc,
      vpcSubnets: { subnets },
      securityGroups: [securityGroup],
      containers: [
        {
          image: new ReferencedImage(props.image),
          modelData: new DataLakeModelData(props.dataLake, modelDataKey),
          environment: sageMakerServingEnvironment(modelVersion),
        },
      ],
    });
  }

  /** One production variant of minCapacity instances; request and response capture on the L1 (aws-cdk #23150). */
  private createEndpointConfig(props: ModelEndpointProps, model: sagemakerAlpha.Model): sagemakerAlpha.EndpointConfig {
    const { dataLake } = props;
    const config = new sagemakerAlpha.EndpointConfig(this, 'EndpointConfig', {
      // CreateEndpointConfig rejects a KmsKeyId for instance types with local storage (encrypted in hardware).
      encryptionKey: hasInstanceStorage(props.instanceType) ? undefined : dataLake.encryptionKey,
      instanceProductionVariants: [
        { model, variantName: VARIANT_NAME, instanceType: sagemakerAlpha.InstanceType.of(props.instanceType), initialInstanceCount: props.autoscaling.minCapacity },
      ],
    });
    const capturePercent = props.dataCapturePercent ?? MODEL_ENDPOINT_DEFAULTS.dataCapturePercent;
    l1Child(config, sagemaker.CfnEndpointConfig).dataCaptureConfig = {
      enableCapture: capturePercent > 0,
      initialSamplingPercentage: capturePercent,
      destinationS3Uri: dataLake.s3Uri('dataCapture', `${props.endpointName}/`),
      kmsKeyId: dataLake.encryptionKey.keyArn,
      captureOptions: [{ captureMode: 'Input' }, { captureMode: 'Output' }],
      captureContentTypeHeader: { jsonContentTypes: ['application/json'], csvContentTypes: ['text/csv'] },
    };
    return config;
  }

  private createErrorRateAlarm(props: ModelEndpointProps): cloudwatch.Alarm {
    const maxPercent = props.maxErrorRatePercent ?? MODEL_ENDPOINT_DEFAULTS.maxErrorRatePercent;
    return this.metricErrorRate().createAlarm(this, 'ErrorRateAlarm', {
      alarmDescription: `${props.endpointName}: more than ${maxPercent}% of invocations fail with 5xx (rolls a deployment back)`,
      threshold: maxPercent,
      ...ROLLBACK_ALARM,
    });
  }

  private createLatencyAlarm(props: ModelEndpointProps): cloudwatch.Alarm {
    const maxLatency = props.maxP99Latency ?? MODEL_ENDPOINT_DEFAULTS.maxP99Latency;
    return this.metricModelLatency({ statistic: 'p99', label: 'p99 model latency (microseconds)' }).createAlarm(this, 'LatencyAlarm', {
      alarmDescription: `${props.endpointName}: p99 model latency above ${maxLatency.toMilliseconds()} ms (rolls a deployment back)`,
      // ModelLatency is reported in microseconds.
      threshold: maxLatency.toMilliseconds() * 1000,
      ...ROLLBACK_ALARM,
    });
  }

  /** Blue/green deployments that shift a canary first and roll back on the rollback alarms (aws-cdk #23152). */
  private configureDeployments(props: ModelEndpointProps, endpoint: sagemakerAlpha.Endpoint): void {
    const cfnEndpoint = l1Child(endpoint, sagemaker.CfnEndpoint);
    // aws-cdk #23151: without this, replacing the endpoint config resets the autoscaled instance count.
    cfnEndpoint.retainAllVariantProperties = true;
    cfnEndpoint.deploymentConfig = {
      blueGreenUpdatePolicy: {
        trafficRoutingConfiguration: {
          type: 'CANARY',
          canarySize: { type: 'CAPACITY_PERCENT', value: props.canaryPercent ?? MODEL_ENDPOINT_DEFAULTS.canaryPercent },
          waitIntervalInSeconds: (props.canaryBakeTime ?? MODEL_ENDPOINT_DEFAULTS.canaryBakeTime).toSeconds(),
        },
        terminationWaitInSeconds: DEPLOYMENT.terminationWait.toSeconds(),
        maximumExecutionTimeoutInSeconds: DEPLOYMENT.maximumExecutionTimeout.toSeconds(),
      },
      autoRollbackConfiguration: { alarms: this.rollbackAlarms.map((a) => ({ alarmName: a.alarmName })) },
    };
  }

  /**
   * Target tracking on SageMakerVariantInvocationsPerInstance with the exact configured target; the
   * alpha scaleOnInvocations() derives it from requests per second (x 60 x safety factor), which
   * cannot express it exactly.
   */
  private createAutoscaling(props: ModelEndpointProps, endpoint: sagemakerAlpha.Endpoint): appscaling.ScalableTarget {
    const target = new appscaling.ScalableTarget(this, 'ScalableTarget', {
      serviceNamespace: appscaling.ServiceNamespace.SAGEMAKER,
      resourceId: `endpoint/${props.endpointName}/variant/${VARIANT_NAME}`,
      scalableDimension: 'sagemaker:variant:DesiredInstanceCount',
      minCapacity: props.autoscaling.minCapacity,
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
    target.node.addDependency(endpoint);
    target.scaleToTrackMetric('InvocationsPerInstance', {
      predefinedMetric: appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
      targetValue: props.autoscaling.invocationsPerInstance,
      scaleInCooldown: Duration.minutes(5),
      scaleOutCooldown: Duration.minutes(1),
    });
    return target;
  }

  private validate(props: ModelEndpointProps): void {
    const v = new PropsValidator(this, props.configFile);
    const type = props.instanceType;
    v.checkResolved(type, isSageMakerInstanceType, 'instanceType', 'aws.serving.instance_type', `"${type}" is not a SageMaker instance type such as ml.c6i.large`);
    v.checkResolved(
      type,
      (t) => !isBurstableInstanceType(t),
      'instanceType',
      'aws.serving.instance_type',
      `"${type}" is a burstable ml.t* type, which SageMaker cannot autoscale; use e.g. ml.c6i.large`,
    );
    this.validateAutoscaling(v, props.autoscaling);
    const capture = props.dataCapturePercent ?? MODEL_ENDPOINT_DEFAULTS.dataCapturePercent;
    v.check(Number.isInteger(capture) && capture >= 0 && capture <= 100, 'dataCapturePercent', 'aws.data_capture_percent', `must be 0-100, found ${capture}`);
    const canary = props.canaryPercent ?? MODEL_ENDPOINT_DEFAULTS.canaryPercent;
    v.check(canary >= 1 && canary <= 50, 'canaryPercent', 'canaryPercent', `SageMaker canaries take 1-50% of capacity, found ${canary}`);
    const endpointNameKey = 'endpoint_name (pipeline.json) + environment';
    v.checkPattern(props.endpointName, ENDPOINT_NAME, 'endpointName', endpointNameKey, `"${props.endpointName}" is not a valid endpoint name (letters, digits, dashes, at most 63)`);
    if (props.modelVersion !== null) {
      v.checkPattern(
        props.modelVersion,
        MODEL_VERSION,
        'modelVersion',
        'model_version',
        `"${props.modelVersion}" must be letters, digits, ".", "_" and "-" (it is a folder under ${props.dataLake.prefixes.models}${props.project}/)`,
      );
    }
    v.throwIfInvalid();
  }

  private validateAutoscaling(v: PropsValidator, { minCapacity, maxCapacity, invocationsPerInstance }: EndpointAutoscaling): void {
    v.check(Number.isInteger(minCapacity) && minCapacity >= 1, 'autoscaling.minCapacity', 'aws.serving.autoscaling.min_capacity', `a real-time endpoint needs at least 1 instance, found ${minCapacity}`);
    v.check(Number.isInteger(maxCapacity) && maxCapacity >= 1, 'autoscaling.maxCapacity', 'aws.serving.autoscaling.max_capacity', `must be a whole number >= 1, found ${maxCapacity}`);
    v.check(minCapacity <= maxCapacity, 'autoscaling.minCapacity', 'aws.serving.autoscaling.min_capacity', `min_capacity (${minCapacity}) must be <= max_capacity (${maxCapacity})`);
    v.check(invocationsPerInstance > 0, 'autoscaling.invocationsPerInstance', 'aws.serving.autoscaling.target_value', `must be > 0, found ${invocationsPerInstance}`);
  }
}
