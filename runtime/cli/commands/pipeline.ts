import type { Command } from 'commander';
import type { PipelineSummary } from '../../pipeline';
import type { StoreCloud } from '../../storage/open';
import { DEFAULT_CONFIG_DIR } from './defaults';
import { parseCloud, parsePort, PROJECT_OPTION, untilStopSignal, wholeNumber } from './options';
import { DEFAULT_WORKDIR } from '../../contract/layout';

interface PipelineCliOptions {
  env: string;
  cloud: string;
  source?: string;
  configDir: string;
  workdir: string;
  project?: string;
  json?: boolean;
  keepServing?: boolean;
  port?: number;
  sampleRows?: number;
}

export function registerPipelineCommand(program: Command): void {
  program
    .command('pipeline')
    .description('run ingest -> train -> evaluate -> register -> serve -> invoke end to end')
    .requiredOption('--env <env>', 'environment: dev, qa, staging or prod')
    .option('--cloud <cloud>', 'where data and models live: local, aws, gcp or azure', 'local')
    .option('--source <url-or-file>', 'REST API URL returning JSON pages, or a CSV/JSONL file or object URI (default: the built-in sample API)')
    .option('--config-dir <dir>', 'configuration folder', DEFAULT_CONFIG_DIR)
    .option('--workdir <dir>', 'local object store root (cloud local)', DEFAULT_WORKDIR)
    .option(...PROJECT_OPTION)
    .option('--port <port>', 'port of the local endpoint (default: a free port)', parsePort)
    .option('--sample-rows <n>', 'rows the built-in sample API serves (default 20000)', wholeNumber('--sample-rows', { min: 1 }))
    .option('--json', 'print one JSON summary on stdout instead of the table')
    .option('--keep-serving', 'leave the endpoint up after the summary (Ctrl-C stops it)')
    .action(async (opts: PipelineCliOptions) => {
      const { createLogger } = require('../../common/logger') as typeof import('../../common/logger');
      const { runPipeline } = require('../../pipeline') as typeof import('../../pipeline');
      const cloud: StoreCloud = parseCloud(opts.cloud, true);
      const say = (line: string) => {
        if (!opts.json) process.stderr.write(`${line}\n`);
      };
      const run = await runPipeline({
        configDir: opts.configDir,
        env: opts.env,
        cloud,
        source: opts.source,
        workdir: opts.workdir,
        project: opts.project,
        keepServing: opts.keepServing,
        port: opts.port,
        sampleRows: opts.sampleRows,
        logger: createLogger('pipeline'),
        progress: opts.json ? 'none' : 'auto',
        onStage: (stage, event, detail) => {
          if (event === 'start') say(`> ${stage} ...`);
          else say(`  ${stage} done${detail ? `: ${detail}` : ''}`);
        },
      });
      if (opts.json) process.stdout.write(`${JSON.stringify(run.summary)}\n`);
      else process.stdout.write(formatSummary(run.summary));
      if (opts.keepServing) {
        say(`endpoint ${run.summary.endpoint} is serving model ${run.summary.model_version}; Ctrl-C to stop`);
        await untilStopSignal();
        await run.close();
      }
    });
}

const fmt = (n: number | undefined, digits = 4) => (n === undefined || Number.isNaN(n) ? '-' : n.toFixed(digits));

/** The human summary `npm start` ends with. */
export function formatSummary(s: PipelineSummary): string {
  const m = s.metrics;
  const quality =
    m.auc !== undefined
      ? `AUC ${fmt(m.auc)}  accuracy ${fmt(m.accuracy)}  log loss ${fmt(m.log_loss)}`
      : m.rmse !== undefined
        ? `RMSE ${fmt(m.rmse)}  MAE ${fmt(m.mae)}  R2 ${fmt(m.r2)}`
        : `accuracy ${fmt(m.accuracy)}`;
  const rows: Array<[string, string]> = [
    ['project', s.project],
    ['environment', `${s.env} (cloud: ${s.cloud})`],
    ['run id', s.run_id],
    ['source', s.source],
    ['rows', `${s.rows.fetched} fetched = ${s.rows.processed} processed + ${s.rows.quarantined} quarantined`],
    ['model version', `${s.model_version} (backend ${s.backend})`],
    ['test metrics', quality],
    ['endpoint', s.endpoint],
    ['invoke latency', `p50 ${fmt(s.latency_ms.p50, 2)} ms  p99 ${fmt(s.latency_ms.p99, 2)} ms`],
    ['sample prediction', JSON.stringify(s.sample_prediction)],
    ['stage seconds', Object.entries(s.stage_seconds).map(([k, v]) => `${k} ${v.toFixed(1)}`).join('  ')],
    ['processed data', s.artifacts.processed],
    ['quarantine', s.artifacts.quarantine],
    ['quality report', s.artifacts.quality_report],
    ['evaluation report', s.artifacts.evaluation_report],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const line = '-'.repeat(width + 2 + Math.min(100, Math.max(...rows.map(([, v]) => v.length))));
  return ['', 'mlstack pipeline summary', line, ...rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`), line, ''].join('\n');
}
