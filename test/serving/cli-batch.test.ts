import * as tf from '../../runtime/model/tf';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'csv-parse/sync';
import { batchTransform, inferFormat } from '../../runtime/serving/batch';
import { loadPredictor } from '../../runtime/serving/load';
import type { Predictor } from '../../runtime/serving/predictor';
import { startServer } from '../../runtime/serving/server';
import { makeTempDir } from '../helpers/tmp';
import { sampleRows, writeTestPackage } from './fixtures';
import { runCli, startServeCli } from '../helpers/cli';

describe('batch transform and the serve/invoke/batch commands', () => {
  let modelDir: string;
  let predictor: Predictor;
  let work: string;

  const savedLevel = process.env.MLSTACK_LOG_LEVEL;
  afterAll(() => {
    if (savedLevel === undefined) delete process.env.MLSTACK_LOG_LEVEL;
    else process.env.MLSTACK_LOG_LEVEL = savedLevel;
  });

  beforeAll(async () => {
    process.env.MLSTACK_LOG_LEVEL = 'silent';
    await tf.setBackend('cpu');
    modelDir = makeTempDir();
    await writeTestPackage(modelDir, { runId: 'run-batch' });
    predictor = await loadPredictor(modelDir);
    work = makeTempDir();
  });

  it('streams a CSV through the model in chunks, keeping extra columns and flagging bad rows', async () => {
    const rows = sampleRows(2503);
    const lines = ['id,age,plan,active,churned', ...rows.map((r, i) => `${i},${r.age},${r.plan},${r.active},no`)];
    lines[11] = '10,old,pro,true,no';
    fs.writeFileSync(path.join(work, 'in.csv'), lines.join('\n') + '\n');
    const summary = await batchTransform({ predictor, input: path.join(work, 'in.csv'), output: `file://${work}/out.csv`, chunkRows: 500 });
    expect(summary).toMatchObject({ rows: 2503, failed: 1, chunks: 6 });
    const out = parse(fs.readFileSync(path.join(work, 'out.csv'), 'utf8'), { columns: true }) as Record<string, string>[];
    expect(Object.keys(out[0])).toEqual(['id', 'age', 'plan', 'active', 'churned', 'prediction', 'probability_no', 'probability_yes', 'error']);
    expect(out).toHaveLength(2503);
    expect(out[10].error).toMatch(/"age" must be a number/);
    expect(out[10].prediction).toBe('');
    const direct = predictor.predict([rows[2000]])[0];
    expect(out[2000].prediction).toBe(direct.prediction);
    expect(Number(out[2000].probability_yes)).toBeCloseTo(direct.probabilities!.yes, 6);
  });

  it('streams JSONL, answering malformed lines with their line number', async () => {
    const rows = sampleRows(5);
    const text = [JSON.stringify(rows[0]), '{"age": 3', '', '[1,2]', ...rows.slice(1).map((r) => JSON.stringify(r))].join('\n');
    fs.writeFileSync(path.join(work, 'in.jsonl'), text);
    const summary = await batchTransform({ predictor, input: path.join(work, 'in.jsonl'), output: path.join(work, 'out.jsonl') });
    expect(summary).toMatchObject({ rows: 7, failed: 2, chunks: 1 });
    const out = fs.readFileSync(path.join(work, 'out.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(out[1]).toEqual({ line: 2, error: expect.stringMatching(/line 2: malformed JSON/) });
    expect(out[2].error).toMatch(/line 4: expected a JSON object/);
    expect(out[3]).toMatchObject({ ...rows[1], prediction: predictor.predict([rows[1]])[0].prediction });
    expect(() => inferFormat('x.parquet')).toThrow(/name it .csv or .jsonl/);
  });

  it('mlstack batch writes the output and prints a summary; bad options exit 2', async () => {
    fs.writeFileSync(path.join(work, 'cli.csv'), 'age,plan,active\n30,pro,true\n');
    const ok = await runCli(['batch', '--model', modelDir, '--input', path.join(work, 'cli.csv'), '--output', path.join(work, 'cli-out.csv')]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ rows: 1, failed: 0 });
    expect(fs.existsSync(path.join(work, 'cli-out.csv'))).toBe(true);
    const bad = await runCli(['batch', '--model', modelDir, '--input', 'a.csv', '--output', 'b.csv', '--chunk-size', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--chunk-size must be a whole number of at least 1, got "0"/);
  });

  it('mlstack invoke --cloud local sends --data and --file rows to a running server', async () => {
    const server = await startServer({ predictor, port: 0, host: '127.0.0.1', env: {} });
    try {
      const data = await runCli(['invoke', '--env', 'dev', '--cloud', 'local', '--url', server.url, '--data', JSON.stringify(sampleRows(2))]);
      expect(data.code).toBe(0);
      expect(JSON.parse(data.stdout).predictions).toHaveLength(2);
      fs.writeFileSync(path.join(work, 'rows.jsonl'), sampleRows(3).map((r) => JSON.stringify(r)).join('\n'));
      const file = await runCli(['invoke', '--env', 'dev', '--cloud', 'local', '--url', server.url, '--file', path.join(work, 'rows.jsonl')]);
      expect(JSON.parse(file.stdout).predictions).toHaveLength(3);
      const bad = await runCli(['invoke', '--env', 'dev', '--cloud', 'local', '--url', server.url, '--data', '{"age": 1}']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/missing feature "plan"/);
      const both = await runCli(['invoke', '--env', 'dev', '--cloud', 'local', '--data', '{}', '--file', 'x.json']);
      expect(both.stderr).toMatch(/exactly one of --file/);
      const cloud = await runCli(['invoke', '--env', 'dev', '--cloud', 'mars', '--data', '{}']);
      expect(cloud.stderr).toMatch(/--cloud "mars": expected one of aws, gcp, azure, local/);
      const csv = path.join(work, 'rows.csv');
      fs.writeFileSync(csv, 'age,plan\n1,"broken');
      expect((await runCli(['invoke', '--env', 'dev', '--cloud', 'local', '--file', csv])).stderr).toMatch(/rows.csv: malformed CSV/);
    } finally {
      await server.close();
    }
  });

  it('mlstack serve loads the model, prints its URL, answers, and drains on SIGTERM', async () => {
    const serve = startServeCli(['--model', modelDir, '--port', '0', '--host', '127.0.0.1', '--config-dir', 'config', '--workers', '1']);
    try {
      const url = await serve.url;
      const res = await fetch(`${url}/invocations`, { method: 'POST', body: JSON.stringify(sampleRows(1)), headers: { 'Content-Type': 'application/json' } });
      expect(res.status).toBe(200);
      expect(res.headers.get('x-model-version')).toBe('run-batch');
      process.emit('SIGTERM', 'SIGTERM');
      expect(await serve.running).toBe(0);
    } finally {
      serve.restore();
    }
    const missing = await runCli(['serve', '--model', makeTempDir(), '--port', '0', '--host', '127.0.0.1', '--workers', '1']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot load model .*no model package/);
    expect((await runCli(['serve', '--model', modelDir, '--port', '99999'])).stderr).toMatch(/--port must be a whole number from 0 to 65535, got "99999"/);
    expect((await runCli(['serve', '--model', modelDir, '--workers', 'many'])).stderr).toMatch(/--workers must be a whole number of at least 1, got "many" \(or "auto"/);
  });
});
