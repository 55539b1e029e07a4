import { binaryMetrics, multiclassMetrics, percentile, regressionMetrics, rocAuc, rocCurve } from '../../runtime/training/metrics';
import { escapeHtml, lossCurveSvg, renderReport } from '../../runtime/training/report';
import { epochLine, finalMetricLines, metricLine, parseNvidiaSmi, SAGEMAKER_METRIC_DEFINITIONS, SystemSampler } from '../../runtime/training/telemetry';
import { createProgress, resolveProgressMode } from '../../runtime/training/progress';
import { inferTask } from '../../runtime/training/dataset';
import { splitIndices, stableStringify } from '../../runtime/training/data';

describe('metrics', () => {
  it('computes AUC with ties like the rank-sum formula', () => {
    expect(rocAuc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])).toBeCloseTo(0.75, 10);
    expect(rocAuc([0, 1], [0.5, 0.5])).toBe(0.5);
    expect(rocAuc([1, 1], [0.2, 0.3])).toBe(0.5);
    const curve = rocCurve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]);
    expect(curve[0]).toEqual({ fpr: 0, tpr: 0 });
    expect(curve[curve.length - 1]).toEqual({ fpr: 1, tpr: 1 });
  });

  it('computes binary metrics and the confusion matrix at the threshold', () => {
    const m = binaryMetrics([1, 1, 0, 0], [0.9, 0.4, 0.6, 0.1]);
    expect(m.confusion).toEqual([
      [1, 1],
      [1, 1],
    ]);
    expect(m.accuracy).toBe(0.5);
    expect(m.precision).toBe(0.5);
    expect(m.recall).toBe(0.5);
    expect(m.f1).toBe(0.5);
    expect(m.log_loss).toBeCloseTo(-(Math.log(0.9) + Math.log(0.4) + Math.log(0.4) + Math.log(0.9)) / 4, 6);
    expect(binaryMetrics([0], [0.1]).f1).toBe(0);
  });

  it('computes multiclass and regression metrics', () => {
    const m = multiclassMetrics([0, 1, 2], [0.8, 0.1, 0.1, 0.2, 0.7, 0.1, 0.5, 0.3, 0.2], 3);
    expect(m.accuracy).toBeCloseTo(2 / 3, 6);
    expect(m.confusion[2][0]).toBe(1);
    const r = regressionMetrics([1, 2, 3], [1, 2, 4]);
    expect(r.mae).toBeCloseTo(1 / 3, 6);
    expect(r.rmse).toBeCloseTo(Math.sqrt(1 / 3), 6);
    expect(r.r2).toBeCloseTo(0.5, 6);
    expect(regressionMetrics([], [])).toEqual({ rmse: 0, mae: 0, r2: 0 });
    expect(percentile([5, 1, 3, 2, 4], 0.99)).toBe(5);
    expect(percentile([], 0.5)).toBe(0);
  });

  it('infers the task from target values', () => {
    expect(inferTask(['yes', 'no'])).toBe('binary');
    expect(inferTask(['a', 'b', 'c'])).toBe('multiclass');
    expect(inferTask(Array.from({ length: 50 }, (_, i) => String(i * 1.5)))).toBe('regression');
  });

  it('splits with stratification in proportion and deterministically', () => {
    const labels = Array.from({ length: 1000 }, (_, i) => (i % 10 === 0 ? 1 : 0));
    const a = splitIndices(1000, 0.8, 42, labels);
    expect(a.first.length).toBe(800);
    expect(a.first.filter((i) => labels[i] === 1).length).toBe(80);
    expect(splitIndices(1000, 0.8, 42, labels)).toEqual(a);
    expect(splitIndices(1000, 0.8, 43, labels)).not.toEqual(a);
    expect(stableStringify({ b: 1, a: [1, { d: undefined, c: 2 }] })).toBe('{"a":[1,{"c":2}],"b":1}');
  });
});

describe('report', () => {
  it('renders the metrics table, loss curves, ROC curve and confusion matrix, escaping labels', () => {
    const html = renderReport({
      title: 'p <run>',
      runId: 'r1',
      task: 'binary',
      metrics: { auc: 0.91234, epochs: 3 },
      history: [
        { epoch: 1, loss: 0.6, val_loss: 0.65 },
        { epoch: 2, loss: 0.5, val_loss: 0.55 },
      ],
      roc: [
        { fpr: 0, tpr: 0 },
        { fpr: 0.2, tpr: 0.8 },
        { fpr: 1, tpr: 1 },
      ],
      confusion: { labels: ['<=50K', '>50K'], matrix: [[5, 1], [2, 3]] },
      lineage: { data_hash: 'abc', parent_run: null },
    });
    expect(html).toContain('<title>p &lt;run&gt;</title>');
    expect(html).toContain('<th>auc</th><td>0.9123</td>');
    expect(html).toContain('<th>epochs</th><td>3</td>');
    expect(html).toMatch(/<polyline class="loss"[^>]*points="[\d.]+,[\d.]+ [\d.]+,[\d.]+"/);
    expect(html).toMatch(/<polyline class="val_loss"/);
    expect(html).toMatch(/<svg id="roc-curve"[\s\S]*AUC 0.9123/);
    expect(html).toContain('<th>&lt;=50K</th><td>5</td><td>1</td>');
    expect(lossCurveSvg([])).toContain('No epochs');
    expect(escapeHtml(`"'&`)).toBe('&quot;&#39;&amp;');
  });
});

describe('telemetry', () => {
  it('parses nvidia-smi output (several GPUs) and samples CPU and RSS', async () => {
    expect(parseNvidiaSmi('45, 1024\n55, 2048\n')).toEqual({ gpu_util_percent: 50, gpu_mem_mb: 3072 });
    expect(parseNvidiaSmi('')).toBeNull();
    const calls: string[] = [];
    const sampler = new SystemSampler(async (cmd) => (calls.push(cmd), '30, 500\n'));
    const sample = await sampler.sample();
    expect(sample).toMatchObject({ gpu_util_percent: 30, gpu_mem_mb: 500 });
    expect(sample.rss_mb).toBeGreaterThan(0);
    expect(sample.cpu_percent).toBeGreaterThanOrEqual(0);
    const without = new SystemSampler(async () => null);
    expect(await without.sample()).not.toHaveProperty('gpu_util_percent');
    await without.sample();
    expect(calls).toEqual(['nvidia-smi']);
  });

  it('emits lines every SageMaker metric regex can read', () => {
    const record = { epoch: 2, loss: 0.25, val_loss: 0.3, val_auc: 0.9, val_accuracy: 0.8, val_rmse: 1e-3, cpu_percent: 150.5, rss_mb: 300, gpu_util_percent: 70, gpu_mem_mb: 1200 };
    expect(JSON.parse(epochLine(record).slice('mlstack-epoch '.length))).toEqual(record);
    const line = metricLine(record);
    expect(line).toBe('metrics epoch=2 train:loss=0.25 validation:auc=0.9 validation:accuracy=0.8 validation:loss=0.3 validation:rmse=0.001 system:cpu_percent=150.5 system:rss_mb=300 system:gpu_util_percent=70 system:gpu_mem_mb=1200');
    for (const def of SAGEMAKER_METRIC_DEFINITIONS.filter((d) => !d.Name.startsWith('test:'))) {
      const match = new RegExp(def.Regex).exec(line);
      expect(match).not.toBeNull();
      expect(Number.isFinite(Number(match![1]))).toBe(true);
    }
    expect(new RegExp(SAGEMAKER_METRIC_DEFINITIONS.find((d) => d.Name === 'validation:rmse')!.Regex).exec(line)![1]).toBe('0.001');
  });

  it('leaves out what a task does not report and non-finite values; final lines repeat the best epoch', () => {
    expect(metricLine({ epoch: 1, loss: 0.5, val_loss: 0.6, val_auc: NaN })).toBe('metrics epoch=1 train:loss=0.5 validation:loss=0.6');
    const [best, test] = finalMetricLines({ epoch: 4, val_auc: 0.91, val_loss: 0.3 }, { auc: 0.88, log_loss: 0.31 });
    expect(best).toBe('metrics best_epoch=4 validation:auc=0.91 validation:loss=0.3');
    const testAuc = new RegExp(SAGEMAKER_METRIC_DEFINITIONS.find((d) => d.Name === 'test:auc')!.Regex);
    expect(testAuc.exec(test)![1]).toBe('0.88');
  });
});

describe('progress', () => {
  it('picks a bar only for a TTY and plain lines otherwise', () => {
    expect(resolveProgressMode('auto', { isTTY: true })).toBe('bar');
    expect(resolveProgressMode('auto', {})).toBe('lines');
    expect(resolveProgressMode('none', { isTTY: true })).toBe('none');
  });

  it('draws a cli-progress bar in bar mode', () => {
    const writes: string[] = [];
    // A terminal stand-in: cli-progress only draws on TTY streams.
    const tty = { isTTY: true, columns: 200, write: (c: string) => (writes.push(String(c)), true), cursorTo: () => true, clearLine: () => true, moveCursor: () => true, clearScreenDown: () => true, on: () => tty, removeListener: () => tty };
    const bar = createProgress('bar', process.stdout, tty as never);
    bar.start(4, 0);
    bar.epoch({ epoch: 1, loss: 0.5, val_auc: 0.8 });
    bar.stop();
    expect(writes.join('')).toMatch(/training \|.*\| epoch 1\/4 \| loss 0\.5000 \| val_auc 0\.8000/);
  });
});
