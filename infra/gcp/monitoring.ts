import { Construct } from 'constructs';
import { MonitoringAlertPolicy } from '@cdktf/provider-google/lib/monitoring-alert-policy';
import { MonitoringNotificationChannel } from '@cdktf/provider-google/lib/monitoring-notification-channel';

export interface ServingAlertsProps {
  /** The Cloud Run service watched (gcpNames(...).servingService). */
  readonly serviceName: string;
  /** Environment named in the notification channel. */
  readonly envName: string;
  /** env alarm_email. @default - no channel: the policies exist but notify nobody */
  readonly alarmEmail?: string;
  /** Share of requests answered 5xx that raises the alert. @default 0.05 */
  readonly errorRateThreshold?: number;
  /** p99 request latency in milliseconds that raises the alert. @default 2000 */
  readonly latencyP99Ms?: number;
}

/** What ServingAlerts uses for each omitted prop. */
export const SERVING_ALERTS_DEFAULTS = {
  errorRateThreshold: 0.05,
  latencyP99Ms: 2000,
} as const;

/** How long a condition must hold before the policy fires. */
const CONDITION_DURATION = '300s';

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
    this.errorRate = this.createErrorRatePolicy(props);
    this.latency = this.createLatencyPolicy(props);
  }

  /** The service's revisions, as a monitoring filter. */
  private serviceFilter(props: ServingAlertsProps): string {
    return `resource.type = "cloud_run_revision" AND resource.labels.service_name = "${props.serviceName}"`;
  }

  private get channels(): string[] {
    return this.channel ? [this.channel.id] : [];
  }

  /** The share of requests answered 5xx, per minute, above the threshold for five minutes. */
  private createErrorRatePolicy(props: ServingAlertsProps): MonitoringAlertPolicy {
    const threshold = props.errorRateThreshold ?? SERVING_ALERTS_DEFAULTS.errorRateThreshold;
    const requests = `${this.serviceFilter(props)} AND metric.type = "run.googleapis.com/request_count"`;
    const ratePerMinute = [{ alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_RATE', crossSeriesReducer: 'REDUCE_SUM' }];
    return new MonitoringAlertPolicy(this, 'error-rate', {
      displayName: `${props.serviceName}: 5xx rate`,
      combiner: 'OR',
      severity: 'ERROR',
      notificationChannels: this.channels,
      conditions: [
        {
          displayName: `5xx share above ${threshold * 100}%`,
          conditionThreshold: {
            filter: `${requests} AND metric.labels.response_code_class = "5xx"`,
            denominatorFilter: requests,
            aggregations: ratePerMinute,
            denominatorAggregations: ratePerMinute,
            comparison: 'COMPARISON_GT',
            thresholdValue: threshold,
            duration: CONDITION_DURATION,
          },
        },
      ],
      documentation: { content: 'Serving answers 5xx: check the revision logs and roll traffic back to the stable revision.', mimeType: 'text/markdown' },
    });
  }

  /** The slowest revision's p99 request latency above the threshold for five minutes. */
  private createLatencyPolicy(props: ServingAlertsProps): MonitoringAlertPolicy {
    const threshold = props.latencyP99Ms ?? SERVING_ALERTS_DEFAULTS.latencyP99Ms;
    return new MonitoringAlertPolicy(this, 'latency', {
      displayName: `${props.serviceName}: p99 latency`,
      combiner: 'OR',
      severity: 'WARNING',
      notificationChannels: this.channels,
      conditions: [
        {
          displayName: `p99 latency above ${threshold} ms`,
          conditionThreshold: {
            filter: `${this.serviceFilter(props)} AND metric.type = "run.googleapis.com/request_latencies"`,
            aggregations: [{ alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_PERCENTILE_99', crossSeriesReducer: 'REDUCE_MAX' }],
            comparison: 'COMPARISON_GT',
            thresholdValue: threshold,
            duration: CONDITION_DURATION,
          },
        },
      ],
      documentation: { content: 'Serving p99 latency is high: check instance count against max_capacity and CPU use.', mimeType: 'text/markdown' },
    });
  }
}
