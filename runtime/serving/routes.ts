/**
 * Which paths the server answers. One server serves every cloud's contract at once, so the
 * same image runs on SageMaker, Vertex AI and Azure ML; each path can be moved by an env var.
 */
import { ENV, PLATFORM_ENV } from '../contract/env';
import { UsageError } from '../common/errors';

export type RouteKind = 'liveness' | 'readiness' | 'predict' | 'metrics';

export interface RouteTable {
  /** path -> what it does; a path is looked up without its query string. */
  byPath: Map<string, { kind: RouteKind; name: string }>;
  port: number;
}

/** Env var -> default, per route. Vertex AI and Azure set theirs; the rest are ours. */
export const ROUTE_ENV = {
  sagemaker_ping: { env: ENV.sageMakerPingRoute, default: '/ping', kind: 'readiness' },
  sagemaker_invocations: { env: ENV.sageMakerInvocationsRoute, default: '/invocations', kind: 'predict' },
  vertex_health: { env: PLATFORM_ENV.aipHealthRoute, default: '/health', kind: 'readiness' },
  vertex_predict: { env: PLATFORM_ENV.aipPredictRoute, default: '/predict', kind: 'predict' },
  azure_liveness: { env: PLATFORM_ENV.amlLivenessRoute, default: '/live', kind: 'liveness' },
  azure_readiness: { env: PLATFORM_ENV.amlReadinessRoute, default: '/ready', kind: 'readiness' },
  azure_scoring: { env: PLATFORM_ENV.amlScoringRoute, default: '/score', kind: 'predict' },
  metrics: { env: ENV.metricsRoute, default: '/metrics', kind: 'metrics' },
} as const satisfies Record<string, { env: string; default: string; kind: RouteKind }>;

export const DEFAULT_PORT = 8080;

/**
 * Port precedence: explicit option, AIP_HTTP_PORT (Vertex), PORT (SageMaker and most platforms),
 * AML_PORT (ours, for Azure's {port, path} routes), then 8080.
 */
export function resolvePort(explicit: number | undefined, env: NodeJS.ProcessEnv): number {
  if (explicit !== undefined) return explicit;
  for (const name of [PLATFORM_ENV.aipHttpPort, PLATFORM_ENV.port, PLATFORM_ENV.amlPort]) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    const port = Number(raw);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`${name}="${raw}" is not a TCP port (0-65535)`);
    return port;
  }
  return DEFAULT_PORT;
}

export function buildRouteTable(env: NodeJS.ProcessEnv, port?: number): RouteTable {
  const byPath = new Map<string, { kind: RouteKind; name: string }>();
  for (const [name, spec] of Object.entries(ROUTE_ENV)) {
    const path = env[spec.env] || spec.default;
    if (!path.startsWith('/')) throw new UsageError(`${spec.env}="${path}" must be an absolute path starting with "/"`);
    const existing = byPath.get(path);
    // Vertex may point health and predict at paths we also use; the first (SageMaker) wins only for equal kinds.
    if (existing && existing.kind !== spec.kind) {
      throw new UsageError(`${spec.env}="${path}" clashes with the ${existing.name} route; give each route its own path`);
    }
    if (!existing) byPath.set(path, { kind: spec.kind, name });
  }
  return { byPath, port: resolvePort(port, env) };
}
