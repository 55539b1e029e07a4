import * as http from 'node:http';
import { startServer, type RunningServer } from '../../runtime/serving/server';
import type { Predictor } from '../../runtime/serving/predictor';
import { readModelPackage } from '../../runtime/model/package';
import { predictorFromPackage } from '../../runtime/serving/model-predictor';
import { LocalObjectStore } from '../../runtime/storage/local-store';
import { makeTempDir } from '../helpers/tmp';
import { echoPredictor, sampleRows, writeTestPackage } from './fixtures';

const JSON_TYPE = { 'Content-Type': 'application/json' };

async function post(url: string, body: string, headers: Record<string, string> = JSON_TYPE): Promise<{ status: number; json: any; headers: Headers }> {
  const res = await fetch(url, { method: 'POST', body, headers });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : undefined, headers: res.headers };
}

describe('serving contracts on loopback', () => {
  let server: RunningServer;
  const env = {
    AIP_HEALTH_ROUTE: '/v1/endpoints/123/deployedModels/456',
    AIP_PREDICT_ROUTE: '/v1/endpoints/123/deployedModels/456:predict',
    AML_LIVENESS_ROUTE: '/aml/live',
    AML_READINESS_ROUTE: '/aml/ready',
    AML_SCORING_ROUTE: '/aml/score',
  };

  beforeAll(async () => {
    server = await startServer({ predictor: echoPredictor(), port: 0, host: '127.0.0.1', env, maxBatchSize: 5, maxBodyBytes: 4096 });
    await server.whenReady;
  });
  afterAll(() => server.close());

  describe('SageMaker', () => {
    it('answers GET /ping with 200 once the model is ready', async () => {
      const res = await fetch(`${server.url}/ping`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: 'ready', model_version: 'v-test' });
    });

    it('predicts one JSON row with its class probabilities and the model version', async () => {
      const { status, json, headers } = await post(`${server.url}/invocations`, JSON.stringify({ age: 50, plan: 'pro', active: true }));
      expect(status).toBe(200);
      expect(json).toEqual({
        predictions: [{ prediction: 'yes', probabilities: { no: 0.25, yes: 0.75 }, model_version: 'v-test' }],
        model_version: 'v-test',
      });
      expect(headers.get('x-model-version')).toBe('v-test');
    });

    it('predicts arrays of rows, {"inputs": ...} and {"data": ...} bodies alike', async () => {
      const rows = sampleRows(3);
      for (const body of [rows, { inputs: rows }, { data: rows }]) {
        const { status, json } = await post(`${server.url}/invocations`, JSON.stringify(body));
        expect(status).toBe(200);
        expect(json.predictions).toHaveLength(3);
      }
    });

    it('reads text/csv with and without a header (header columns in any order)', async () => {
      const csv = 'active,age,plan\ntrue,61,team\nfalse,20,basic\n';
      const withHeader = await post(`${server.url}/invocations`, csv, { 'Content-Type': 'text/csv' });
      expect(withHeader.status).toBe(200);
      expect(withHeader.json.predictions.map((p: any) => p.prediction)).toEqual(['yes', 'no']);
      const bare = await post(`${server.url}/invocations`, '61,team,true\r\n', { 'Content-Type': 'text/csv; charset=utf-8' });
      expect(bare.status).toBe(200);
      expect(bare.json.predictions[0].prediction).toBe('yes');
    });
  });

  describe('Vertex AI', () => {
    it('serves AIP_HEALTH_ROUTE and AIP_PREDICT_ROUTE with {"instances": [...], "parameters": {...}}', async () => {
      expect((await fetch(server.url + env.AIP_HEALTH_ROUTE)).status).toBe(200);
      const { status, json } = await post(server.url + env.AIP_PREDICT_ROUTE, JSON.stringify({ instances: sampleRows(2), parameters: { x: 1 } }));
      expect(status).toBe(200);
      expect(json.predictions).toHaveLength(2);
      expect(json.predictions[0]).toMatchObject({ prediction: 'no', model_version: 'v-test' });
    });

    it('takes instances as arrays of values in feature order', async () => {
      const { status, json } = await post(server.url + env.AIP_PREDICT_ROUTE, JSON.stringify({ instances: [[70, 'pro', false]] }));
      expect(status).toBe(200);
      expect(json.predictions[0].prediction).toBe('yes');
    });
  });

  describe('Azure ML', () => {
    it('serves the liveness, readiness and scoring routes named by AML_*_ROUTE', async () => {
      expect((await fetch(server.url + env.AML_LIVENESS_ROUTE)).status).toBe(200);
      expect((await fetch(server.url + env.AML_READINESS_ROUTE)).status).toBe(200);
      const { status, json } = await post(server.url + env.AML_SCORING_ROUTE, JSON.stringify({ data: sampleRows(1) }));
      expect(status).toBe(200);
      expect(json.predictions).toHaveLength(1);
    });
  });

  describe('bad input gets a 4xx naming the field and what was expected', () => {
    const cases: [string, string, Record<string, string>, number, RegExp, string | undefined][] = [
      ['wrong content type', 'age=3', { 'Content-Type': 'application/x-www-form-urlencoded' }, 415, /application\/json or text\/csv/, 'Content-Type'],
      ['malformed JSON', '{"age": 3,', JSON_TYPE, 400, /malformed JSON/, 'body'],
      ['malformed CSV', '"unterminated,pro,true', { 'Content-Type': 'text/csv' }, 400, /malformed CSV/, 'body'],
      ['CSV with the wrong column count', '1,2', { 'Content-Type': 'text/csv' }, 400, /expected 3 columns/, undefined],
      ['a missing feature', '{"age": 3, "plan": "pro"}', JSON_TYPE, 400, /missing feature "active"/, 'active'],
      ['an extra field', '{"age": 3, "plan": "pro", "active": true, "zip": 1}', JSON_TYPE, 400, /unknown field "zip"/, 'zip'],
      ['a wrong type', '{"age": "old", "plan": "pro", "active": true}', JSON_TYPE, 400, /"age" must be a number/, 'age'],
      ['an object value', '{"age": {"a": 1}, "plan": "pro", "active": true}', JSON_TYPE, 400, /"age": expected a number or string/, 'age'],
      ['Infinity (1e999)', '{"age": 1e999, "plan": "pro", "active": true}', JSON_TYPE, 400, /finite number, found Infinity/, 'age'],
      ['NaN literal', '{"age": NaN, "plan": "pro", "active": true}', JSON_TYPE, 400, /malformed JSON/, undefined],
      ['NaN in CSV', 'NaN,pro,true', { 'Content-Type': 'text/csv' }, 400, /"age" must be a number/, 'age'],
      ['no rows', '[]', JSON_TYPE, 400, /no rows/, 'body'],
      ['a scalar body', '42', JSON_TYPE, 400, /expected a row object/, 'body'],
      ['a scalar row', '[1]', JSON_TYPE, 400, /row 0: expected an object/, undefined],
      ['instances that are not an array', '{"instances": {"age": 1}}', JSON_TYPE, 400, /"instances" must be an array/, 'instances'],
      ['too many rows', JSON.stringify(sampleRows(6)), JSON_TYPE, 413, /too many rows: 6, at most 5/, 'body'],
      ['an oversize body', JSON.stringify({ pad: 'x'.repeat(5000) }), JSON_TYPE, 413, /at most 4096/, 'body'],
    ];
    it.each(cases)('%s', async (_name, body, headers, status, message, field) => {
      const res = await post(`${server.url}/invocations`, body, headers);
      expect(res.status).toBe(status);
      expect(res.json.message).toMatch(message);
      if (field) expect(res.json.field).toBe(field);
    });

    it('refuses an oversize chunked body (no Content-Length) with 413', async () => {
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request(`${server.url}/invocations`, { method: 'POST', headers: JSON_TYPE }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        for (let i = 0; i < 10; i++) req.write('x'.repeat(1000));
        req.end();
      });
      expect(status).toBe(413);
    });

    it('answers unknown routes with 404 and GET on a predict route with 405', async () => {
      const missing = await fetch(`${server.url}/nope`);
      expect(missing.status).toBe(404);
      expect(((await missing.json()) as { expected: string }).expected).toContain('/invocations');
      const get = await fetch(`${server.url}/invocations`);
      expect(get.status).toBe(405);
      expect(get.headers.get('allow')).toBe('POST');
    });
  });

  it('exports Prometheus metrics: requests by route and code, latency histogram, errors by code', async () => {
    await post(`${server.url}/invocations`, '{"age":', JSON_TYPE);
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toMatch(/mlstack_http_requests_total\{route="sagemaker_invocations",code="200"\} \d+/);
    expect(text).toMatch(/mlstack_http_request_duration_seconds_bucket\{le="0.005",route="sagemaker_invocations"\}/);
    expect(text).toMatch(/mlstack_http_errors_total\{code="400",reason="bad_request"\} \d+/);
    expect(text).toMatch(/mlstack_predicted_rows_total \d+/);
  });
});

describe('server lifecycle', () => {
  it('answers 503 on readiness and predict until the model is loaded, 200 on liveness throughout', async () => {
    let resolve!: (p: Predictor) => void;
    const loading = new Promise<Predictor>((r) => (resolve = r));
    const server = await startServer({ predictor: loading, port: 0, host: '127.0.0.1', env: {} });
    try {
      expect(server.ready).toBe(false);
      expect((await fetch(`${server.url}/ping`)).status).toBe(503);
      expect((await fetch(`${server.url}/ready`)).status).toBe(503);
      expect((await fetch(`${server.url}/live`)).status).toBe(200);
      expect((await post(`${server.url}/invocations`, '{}')).status).toBe(503);
      let warmed = 0;
      resolve(echoPredictor({ warmup: () => void warmed++ }));
      await server.whenReady;
      expect(warmed).toBe(1);
      expect(server.ready).toBe(true);
      expect((await fetch(`${server.url}/ping`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('readiness waits for its gate (a cluster worker: every sibling loaded) even with its own model loaded', async () => {
    let siblingsLoaded = false;
    const server = await startServer({ predictor: echoPredictor(), port: 0, host: '127.0.0.1', env: {}, readinessGate: () => siblingsLoaded });
    try {
      await server.whenReady;
      const waiting = await fetch(`${server.url}/ping`);
      expect(waiting.status).toBe(503);
      expect(await waiting.json()).toEqual({ status: 'waiting for the other workers' });
      siblingsLoaded = true;
      expect((await fetch(`${server.url}/ping`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('rejects whenReady and stays unready when the model fails to load', async () => {
    const server = await startServer({ predictor: Promise.reject(new Error('no weights')), port: 0, host: '127.0.0.1', env: {} });
    try {
      await expect(server.whenReady).rejects.toThrow('no weights');
      expect((await fetch(`${server.url}/ping`)).status).toBe(503);
    } finally {
      await server.close();
    }
  });

  it('answers 500 (and stays up) only when the model itself fails on valid input', async () => {
    const server = await startServer({
      predictor: echoPredictor({ predict: () => { throw new Error('boom'); } }),
      port: 0,
      host: '127.0.0.1',
      env: {},
    });
    try {
      const res = await post(`${server.url}/invocations`, JSON.stringify(sampleRows(1)));
      expect(res.status).toBe(500);
      expect(res.json.error).toBe('internal_error');
      expect((await fetch(`${server.url}/live`)).status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('drains: a request in flight when close() is called still completes with 200 and Connection: close', async () => {
    const server = await startServer({ predictor: echoPredictor(), port: 0, host: '127.0.0.1', env: {} });
    await server.whenReady;
    const body = JSON.stringify(sampleRows(2));
    const agent = new http.Agent({ keepAlive: true });
    const response = new Promise<{ status: number; connection: string | undefined; text: string }>((resolve, reject) => {
      const req = http.request(`${server.url}/invocations`, { method: 'POST', headers: JSON_TYPE, agent }, (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, text }));
      });
      req.on('error', reject);
      req.write(body.slice(0, 10));
      // Close only once the server holds the request (headers parsed, body still arriving).
      const poll = setInterval(() => {
        if (server.inFlight < 1) return;
        clearInterval(poll);
        const closing = server.close();
        expect(server.ready).toBe(false);
        req.end(body.slice(10));
        closing.catch(reject);
      }, 2);
    });
    const res = await response;
    expect(res.status).toBe(200);
    expect(res.connection).toBe('close');
    expect(JSON.parse(res.text).predictions).toHaveLength(2);
    agent.destroy();
  });
});

describe('the JSON fast path of a model package predictor', () => {
  it('answers byte for byte what the general path answers, and leaves CSV and odd bodies to it', async () => {
    const dir = makeTempDir();
    await writeTestPackage(dir, { task: 'binary' });
    const predictor = predictorFromPackage(await readModelPackage(new LocalObjectStore(dir), ''), 'v9');
    let fastAnswers = 0;
    const counted: Predictor = {
      ...predictor,
      predictJson(body, maxRows) {
        const answer = predictor.predictJson!(body, maxRows);
        if (answer) fastAnswers++;
        return answer;
      },
    };
    const { predictJson: _, ...generalOnly } = predictor;
    const fast = await startServer({ predictor: counted, port: 0, host: '127.0.0.1', env: {}, maxBatchSize: 50 });
    const general = await startServer({ predictor: generalOnly, port: 0, host: '127.0.0.1', env: {}, maxBatchSize: 50 });
    try {
      await Promise.all([fast.whenReady, general.whenReady]);
      fastAnswers = 0; // the warm-up calls it too
      const rows = [...sampleRows(20), { age: null, plan: ' team', active: null }];
      const bodies: [string, string | undefined][] = [
        [JSON.stringify({ instances: rows }), undefined],
        [JSON.stringify(rows[3]), undefined],
        [JSON.stringify([{ ...rows[0], age: '33' }]), undefined],
        [JSON.stringify({ instances: sampleRows(51) }), undefined],
        [JSON.stringify([{ ...rows[0], extra: 1 }]), undefined],
        ['age,plan,active\n30,pro,true\n', 'text/csv'],
      ];
      for (const [body, type] of bodies) {
        const headers = { 'Content-Type': type ?? 'application/json' };
        const [a, b] = await Promise.all([fast.url, general.url].map((url) => fetch(`${url}/invocations`, { method: 'POST', body, headers })));
        expect(a.status).toBe(b.status);
        expect(await a.text()).toBe(await b.text());
      }
      // The first two bodies are plain; a numeric string, an oversize batch, an unknown field and CSV are not.
      expect(fastAnswers).toBe(2);
      const metrics = await (await fetch(`${fast.url}/metrics`)).text();
      expect(metrics).toMatch(/^mlstack_predicted_rows_total 24$/m);
    } finally {
      await Promise.all([fast.close(), general.close()]);
    }
  });
});
