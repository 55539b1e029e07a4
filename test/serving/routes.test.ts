import { buildRouteTable, resolvePort } from '../../runtime/serving/routes';

describe('route table', () => {
  it('uses each cloud\'s defaults and lets env vars move every route', () => {
    const defaults = buildRouteTable({});
    expect([...defaults.byPath.keys()].sort()).toEqual(['/health', '/invocations', '/live', '/metrics', '/ping', '/predict', '/ready', '/score']);
    const moved = buildRouteTable({ AIP_PREDICT_ROUTE: '/v1/x:predict', MLSTACK_SM_PING_ROUTE: '/healthz', MLSTACK_METRICS_ROUTE: '/m' });
    expect(moved.byPath.get('/v1/x:predict')).toEqual({ kind: 'predict', name: 'vertex_predict' });
    expect(moved.byPath.get('/healthz')?.kind).toBe('readiness');
    expect(moved.byPath.has('/ping')).toBe(false);
    // Two clouds may share a path when it does the same thing.
    expect(buildRouteTable({ AIP_PREDICT_ROUTE: '/invocations' }).byPath.get('/invocations')?.name).toBe('sagemaker_invocations');
  });

  it('refuses relative paths and paths that clash with a route of another kind', () => {
    expect(() => buildRouteTable({ AML_SCORING_ROUTE: 'score' })).toThrow(/AML_SCORING_ROUTE="score" must be an absolute path/);
    expect(() => buildRouteTable({ AIP_HEALTH_ROUTE: '/invocations' })).toThrow(/AIP_HEALTH_ROUTE="\/invocations" clashes with the sagemaker_invocations route/);
  });

  it('picks the port from the option, AIP_HTTP_PORT, PORT, AML_PORT, else 8080', () => {
    expect(resolvePort(0, { PORT: '9' })).toBe(0);
    expect(resolvePort(undefined, { AIP_HTTP_PORT: '7080', PORT: '9' })).toBe(7080);
    expect(resolvePort(undefined, { PORT: '9000', AML_PORT: '5001' })).toBe(9000);
    expect(resolvePort(undefined, { AML_PORT: '5001' })).toBe(5001);
    expect(resolvePort(undefined, {})).toBe(8080);
    expect(() => resolvePort(undefined, { PORT: 'http' })).toThrow(/PORT="http" is not a TCP port/);
  });
});
