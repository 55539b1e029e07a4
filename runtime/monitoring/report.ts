/**
 * The HTML drift report: a summary, then per feature (drifted ones first) its metrics against their
 * thresholds and paired bars of the train and live shares per bin. Self-contained: no script, no fetch.
 */
import type { FeatureDrift } from './drift';
import type { MonitorResult } from './monitor';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function pct(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

function bars(f: FeatureDrift): string {
  const rows = f.bins.labels.map((label, i) => {
    const train = f.bins.train[i] ?? 0;
    const live = f.bins.live[i] ?? 0;
    return (
      `<tr><td>${escapeHtml(label)}</td>` +
      `<td><div class="bar train" style="width:${(train * 300).toFixed(1)}px"></div>${pct(train)}</td>` +
      `<td><div class="bar live" style="width:${(live * 300).toFixed(1)}px"></div>${pct(live)}</td></tr>`
    );
  });
  return `<table class="bins"><tr><th>bin</th><th>train</th><th>live</th></tr>${rows.join('')}</table>`;
}

function metricsLine(f: FeatureDrift): string {
  const over = new Map(f.drifted.map((d) => [d.metric, d.threshold]));
  return Object.entries(f.metrics)
    .map(([m, v]) => `<span class="${over.has(m as never) ? 'over' : ''}">${m} ${(v as number).toFixed(4)}${over.has(m as never) ? ` &gt; ${over.get(m as never)}` : ''}</span>`)
    .join(' · ');
}

function section(f: FeatureDrift): string {
  const unseen = f.unseen?.length ? `<p>unseen: ${f.unseen.map((u) => `${escapeHtml(u.value)} (${u.count})`).join(', ')}</p>` : '';
  return (
    `<section class="${f.drifted.length ? 'drift' : 'ok'}"><h2>${escapeHtml(f.feature)} <small>${f.kind}${f.drifted.length ? ' · DRIFT' : ''}</small></h2>` +
    `<p>${metricsLine(f)}</p><p>missing: train ${pct(f.missing.train)}, live ${pct(f.missing.live)}</p>${unseen}${bars(f)}</section>`
  );
}

const STYLE =
  'body{font-family:sans-serif;margin:2em}section{border-left:4px solid #2a2;padding-left:1em;margin:1em 0}' +
  'section.drift{border-color:#c22}.over{color:#c22;font-weight:bold}.bar{display:inline-block;height:10px;margin-right:4px}' +
  '.train{background:#58a}.live{background:#e94}table.bins td{padding:1px 8px;font-size:12px}';

export function renderDriftReport(result: MonitorResult): string {
  const all = [...result.features, ...(result.prediction ? [result.prediction] : [])];
  const ordered = [...all.filter((f) => f.drifted.length), ...all.filter((f) => !f.drifted.length)];
  const perf = result.performance ? `<p>labelled: ${result.performance.joined} · accuracy ${result.performance.accuracy ?? '–'} · AUC ${result.performance.auc ?? '–'}</p>` : '';
  const summary = result.drift ? `DRIFT in ${escapeHtml(result.drifted_features.join(', '))}` : 'no drift';
  return (
    `<!doctype html><html><head><meta charset="utf-8"><title>drift: ${escapeHtml(result.model)} ${escapeHtml(result.env)}</title><style>${STYLE}</style></head><body>` +
    `<h1>${escapeHtml(result.project)} ${escapeHtml(result.model)} in ${escapeHtml(result.env)}: ${summary}</h1>` +
    `<p>${result.rows} live rows from ${escapeHtml(result.data)}${result.since ? ` since ${escapeHtml(result.since)}` : ''}; checked ${escapeHtml(result.checked_at)}</p>${perf}` +
    `${ordered.map(section).join('\n')}</body></html>\n`
  );
}
