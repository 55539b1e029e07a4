import { Construct } from 'constructs';
import { MonitorActionGroup } from '@cdktf/provider-azurerm/lib/monitor-action-group';
import { MonitorMetricAlert, type MonitorMetricAlertCriteria } from '@cdktf/provider-azurerm/lib/monitor-metric-alert';

export interface AlertsProps {
  readonly resourceGroupName: string;
  /** env alarm_email. @default - no action group: the alerts fire in the portal and notify nobody */
  readonly alarmEmail?: string;
  /** Action group name (azureNames(...).actionGroup). */
  readonly actionGroupName: string;
  /** At most 12 characters. */
  readonly actionGroupShortName: string;
  /** Tags on every resource. */
  readonly tags: Record<string, string>;
}

/** One metric condition on one resource (Azure Monitor platform metrics, learn.microsoft.com supported-metrics). */
interface MetricAlert {
  id: string;
  name: string;
  description: string;
  scope: string;
  severity: number;
  /** How often the condition is evaluated and over which window (ISO 8601). */
  frequency: string;
  windowSize: string;
  criteria: MonitorMetricAlertCriteria;
}

/**
 * Azure Monitor alerts for one environment, mailed to alarm_email through one action group:
 * serving 5xx and response time (Microsoft.App/containerApps), failed ingestion executions
 * (Microsoft.App/jobs) and failed training runs (Microsoft.MachineLearningServices/workspaces).
 */
export class Alerts extends Construct {
  readonly actionGroup?: MonitorActionGroup;
  readonly alerts: MonitorMetricAlert[] = [];

  constructor(scope: Construct, id: string, private readonly props: AlertsProps) {
    super(scope, id);
    if (props.alarmEmail) {
      this.actionGroup = new MonitorActionGroup(this, 'action-group', {
        name: props.actionGroupName,
        shortName: props.actionGroupShortName,
        resourceGroupName: props.resourceGroupName,
        emailReceiver: [{ name: 'alarm-email', emailAddress: props.alarmEmail, useCommonAlertSchema: true }],
        tags: props.tags,
      });
    }
  }

  /** 5xx answers and slow responses of the serving Container App. */
  addServing(appName: string, appId: string): void {
    const namespace = 'Microsoft.App/containerApps';
    this.add({
      id: 'serving-5xx',
      name: `${appName}-5xx`,
      description: 'Serving answers 5xx: check the revision logs and move traffic back to the stable revision.',
      scope: appId,
      severity: 1,
      frequency: 'PT1M',
      windowSize: 'PT5M',
      criteria: {
        metricNamespace: namespace,
        metricName: 'Requests',
        aggregation: 'Total',
        operator: 'GreaterThan',
        threshold: 5,
        dimension: [{ name: 'statusCodeCategory', operator: 'Include', values: ['5xx'] }],
      },
    });
    this.add({
      id: 'serving-latency',
      name: `${appName}-response-time`,
      description: 'Serving responds slowly: check replica count against max_capacity and CPU use.',
      scope: appId,
      severity: 2,
      frequency: 'PT1M',
      windowSize: 'PT5M',
      criteria: { metricNamespace: namespace, metricName: 'ResponseTime', aggregation: 'Average', operator: 'GreaterThan', threshold: 2000 },
    });
  }

  /** Any failed execution of the scheduled ingestion job. */
  addIngestion(jobName: string, jobId: string): void {
    this.add({
      id: 'ingestion-failed',
      name: `${jobName}-failed`,
      description: 'A scheduled ingestion execution failed: read its logs in the Container Apps environment.',
      scope: jobId,
      severity: 2,
      frequency: 'PT15M',
      windowSize: 'PT1H',
      criteria: {
        metricNamespace: 'Microsoft.App/jobs',
        metricName: 'Executions',
        aggregation: 'Total',
        operator: 'GreaterThan',
        threshold: 0,
        dimension: [{ name: 'state', operator: 'Include', values: ['Failed'] }],
      },
    });
  }

  /** Any failed Azure ML run (the training jobs ingestion submits) in the workspace. */
  addTraining(workspaceName: string, workspaceId: string): void {
    this.add({
      id: 'training-failed',
      name: `${workspaceName}-failed-runs`,
      description: 'An Azure ML training run failed: open the job in the workspace and read its std_log.',
      scope: workspaceId,
      severity: 2,
      frequency: 'PT15M',
      windowSize: 'PT1H',
      criteria: {
        metricNamespace: 'Microsoft.MachineLearningServices/workspaces',
        metricName: 'Failed Runs',
        aggregation: 'Total',
        operator: 'GreaterThan',
        threshold: 0,
      },
    });
  }

  private add(alert: MetricAlert): void {
    this.alerts.push(
      new MonitorMetricAlert(this, alert.id, {
        name: alert.name,
        resourceGroupName: this.props.resourceGroupName,
        scopes: [alert.scope],
        description: alert.description,
        severity: alert.severity,
        frequency: alert.frequency,
        windowSize: alert.windowSize,
        criteria: [alert.criteria],
        action: this.actionGroup ? [{ actionGroupId: this.actionGroup.id }] : undefined,
        tags: this.props.tags,
      }),
    );
  }
}
