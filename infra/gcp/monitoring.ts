import { Construct } from 'constructs';
import { MonitoringAlertPolicy } from '@cdktf/provider-google/lib/monitoring-alert-policy';
import { MonitoringNotificationChannel } from '@cdktf/provider-google/lib/monitoring-notification-channel';

export interface ServingAlertsProps {
  serviceName: string;
  envName: string;
  /** env alarm_email; without it the policies exist but notify nobody. */
  alarmEmail?: string;
  /** Share of requests answered 5xx that raises the alert. @default 0.05 */
  errorRateThreshold?: number;
  /** p99 request latency in milliseconds that raises the alert. @default 2000 */
  latencyP99Ms?: number;
}

/** 5xx rate and p99 latency alerts on the serving service, mailed to alarm_email. */
export class ServingAlerts extends Construct {
  readonly errorRate: MonitoringAlertPolicy;
  readonly latency: MonitoringAlertPolicy;
  readonly channel?: MonitoringNotificationChannel;

  constructor(scope: Construct, id: string, props: ServingAlertsProps) {
    super(scope, id);
    if (props.alarmEmail) {
      this.channel = new MonitoringNotificationChannel(this, 'email', {
        displayName: `mlstack ${props.envName} alarms`,
        type: 'email',
        labels: { email_address: props.alarmEmail },
      });
    }
    const channels = this.channel ? [this.channel.id] : [];
    const service = `resource.type = "cloud_run_revision" AND resource.labels.service_name = "${props.serviceName}"`;
    const requests = `${service} AND metric.type = "run.googleapis.com/request_count"`;
    const ratePerMinute = [{ alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_RATE', crossSeriesReducer: 'REDUCE_SUM' }];

    this.errorRate = new MonitoringAlertPolicy(this, 'error-rate', {
      displayName: `${props.serviceName}: 5xx rate`,
      combiner: 'OR',
      severity: 'ERROR',
      notificationChannels: channels,
      conditions: [
        {
          displayName: `5xx share above ${(props.errorRateThreshold ?? 0.05) * 100}%`,
          conditionThreshold: {
            filter: `${requests} AND metric.labels.response_code_class = "5xx"`,
            denominatorFilter: requests,
            aggregations: ratePerMinute,
            denominatorAggregations: ratePerMinute,
            comparison: 'COMPARISON_GT',
            thresholdValue: props.errorRateThreshold ?? 0.05,
            duration: '300s',
          },
        },
      ],
      documentation: { content: 'Serving answers 5xx: check the revision logs and roll traffic back to the stable revision.', mimeType: 'text/markdown' },
    });

    this.latency = new MonitoringAlertPolicy(this, 'latency', {
      displayName: `${props.serviceName}: p99 latency`,
      combiner: 'OR',
      severity: 'WARNING',
      notificationChannels: channels,
      conditions: [
        {
          displayName: `p99 latency above ${props.latencyP99Ms ?? 2000} ms`,
          conditionThreshold: {
            filter: `${service} AND metric.type = "run.googleapis.com/request_latencies"`,
            aggregations: [{ alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_PERCENTILE_99', crossSeriesReducer: 'REDUCE_MAX' }],
            comparison: 'COMPARISON_GT',
            thresholdValue: props.latencyP99Ms ?? 2000,
            duration: '300s',
          },
        },
      ],
      documentation: { content: 'Serving p99 latency is high: check instance count against max_capacity and CPU use.', mimeType: 'text/markdown' },
    });
  }
}
