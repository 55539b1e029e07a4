import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { PropsValidator } from '../validation';

export interface MonitoringProps {
  /** Name of the environment's CloudWatch dashboard, e.g. `mlstack-prod`. */
  readonly dashboardName: string;
  /** Address subscribed to the alarm topic (config `alarm_email`). @default - no subscription */
  readonly alarmEmail?: string;
  /** Config file named in validation errors. @default - none named */
  readonly configFile?: string;
}

/** A state machine's alarm counts its failed and timed-out executions over this period. */
const STATE_MACHINE_ALARM_PERIOD = Duration.minutes(5);
const DASHBOARD_NAME = /^[A-Za-z0-9_-]{1,255}$/;
const EMAIL = /^[^@\s]+@[^@\s]+$/;

/**
 * Alarms to one SNS topic (KMS-encrypted, TLS-only) and one CloudWatch
 * dashboard per environment. Other constructs hand their alarms and
 * widgets to it.
 */
export class Monitoring extends Construct {
  readonly topic: sns.Topic;
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.IAlarm[] = [];

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.validate(props);

    const key = new kms.Key(this, 'TopicKey', { description: 'Encrypts the alarm topic', enableKeyRotation: true });
    // CloudWatch alarms publish to an encrypted topic only if the service may use its key.
    key.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    this.topic = new sns.Topic(this, 'AlarmTopic', { masterKey: key, enforceSSL: true, displayName: `${props.dashboardName} alarms` });
    if (props.alarmEmail) this.topic.addSubscription(new subscriptions.EmailSubscription(props.alarmEmail));

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.days(1),
    });
  }

  /** Sends the alarm's ALARM and OK transitions to the topic. */
  addAlarm(alarm: cloudwatch.Alarm): void {
    alarm.addAlarmAction(new actions.SnsAction(this.topic));
    alarm.addOkAction(new actions.SnsAction(this.topic));
    this.alarms.push(alarm);
  }

  /** Adds widgets to the dashboard, in one row (none: no empty row). */
  addWidgets(...widgets: cloudwatch.IWidget[]): void {
    if (widgets.length > 0) this.dashboard.addWidgets(...widgets);
  }

  /** Alarms on failed or timed-out executions of a state machine and graphs its runs. */
  monitorStateMachine(id: string, title: string, stateMachine: sfn.StateMachine): cloudwatch.Alarm {
    const failed = new cloudwatch.MathExpression({
      expression: 'failed + timedOut',
      usingMetrics: {
        failed: stateMachine.metricFailed({ period: STATE_MACHINE_ALARM_PERIOD }),
        timedOut: stateMachine.metricTimedOut({ period: STATE_MACHINE_ALARM_PERIOD }),
      },
      label: `${title}: failed or timed out`,
      period: STATE_MACHINE_ALARM_PERIOD,
    });
    const alarm = failed.createAlarm(this, `${id}FailedAlarm`, {
      alarmDescription: `${title}: an execution failed or timed out`,
      threshold: 0,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.addAlarm(alarm);
    this.addWidgets(
      new cloudwatch.GraphWidget({
        title: `${title} executions`,
        left: [stateMachine.metricStarted(), stateMachine.metricSucceeded(), stateMachine.metricFailed()],
        width: 12,
      }),
    );
    return alarm;
  }

  private validate(props: MonitoringProps): void {
    const v = new PropsValidator(this, props.configFile);
    const dashboardKey = 'project (pipeline.json) + environment';
    v.checkPattern(props.dashboardName, DASHBOARD_NAME, 'dashboardName', dashboardKey, `"${props.dashboardName}" must be 1-255 letters, digits, "-" and "_"`);
    v.checkResolved(props.alarmEmail, (email) => email === undefined || EMAIL.test(email), 'alarmEmail', 'alarm_email', `"${props.alarmEmail}" is not an email address`);
    v.throwIfInvalid();
  }
}
