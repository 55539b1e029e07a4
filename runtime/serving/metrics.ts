import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one server (own registry, so several servers can live in one process). */
export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'route' | 'code'>;
  private readonly errors: Counter<'code' | 'reason'>;
  private readonly latency: Histogram<'route'>;
  private readonly rows: Counter<string>;
  // prom-client hashes label objects on every call; children cached per label set keep the hot path cheap.
  private readonly requestChildren = new Map<string, { inc(): void }>();
  private readonly latencyChildren = new Map<string, { observe(v: number): void }>();

  constructor(inFlight: () => number) {
    new Gauge({
      name: 'mlstack_http_requests_in_flight',
      help: 'Requests being handled, not counting the scrapes of this endpoint',
      registers: [this.registry],
      collect() {
        this.set(inFlight());
      },
    });
    this.requests = new Counter({
      name: 'mlstack_http_requests_total',
      help: 'HTTP requests by route and status code',
      labelNames: ['route', 'code'],
      registers: [this.registry],
    });
    this.errors = new Counter({
      name: 'mlstack_http_errors_total',
      help: 'Requests answered with an error, by status code and reason',
      labelNames: ['code', 'reason'],
      registers: [this.registry],
    });
    this.latency = new Histogram({
      name: 'mlstack_http_request_duration_seconds',
      help: 'Time from request start to response end',
      labelNames: ['route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [this.registry],
    });
    this.rows = new Counter({ name: 'mlstack_predicted_rows_total', help: 'Rows predicted', registers: [this.registry] });
    collectDefaultMetrics({ register: this.registry, prefix: 'mlstack_' });
  }

  observe(route: string, code: number, seconds: number): void {
    const key = `${route}\u0000${code}`;
    let counter = this.requestChildren.get(key);
    if (!counter) {
      counter = this.requests.labels(route, String(code));
      this.requestChildren.set(key, counter);
    }
    counter.inc();
    let histogram = this.latencyChildren.get(route);
    if (!histogram) {
      histogram = this.latency.labels(route);
      this.latencyChildren.set(route, histogram);
    }
    histogram.observe(seconds);
  }

  error(code: number, reason: string): void {
    this.errors.labels(String(code), reason).inc();
  }

  predicted(count: number): void {
    this.rows.inc(count);
  }

  render(): Promise<string> {
    return this.registry.metrics();
  }
}
