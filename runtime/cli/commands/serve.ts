import type { Command } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MlstackError } from '../../common/errors';
import { UsageError } from '../errors';
import { ENV } from '../../contract/env';
import { DEFAULT_WORKDIR } from '../../contract/layout';
import { DEFAULT_CONFIG_DIR } from './defaults';
import { parsePort, parseWholeNumber, PROJECT_OPTION, wholeNumber } from './options';

interface ServeOptions {
  model: string;
  port?: number;
  host: string;
  workdir: string;
  registryUri?: string;
  configDir: string;
  workers?: string;
  project?: string;
  capturePercent: number;
}

/** `--workers`: `auto` or a whole number of at least 1 (MLSTACK_WORKERS, checked by serving/cluster's parseWorkers, takes the same). */
export function parseWorkersOption(value: string): string {
  return value === 'auto' ? value : String(parseWholeNumber('--workers', value, { min: 1, hint: 'or "auto": one per usable core' }));
}

/** Batch and body limits from config/pipeline.json `serving`, when the config folder exists. */
export function servingConfigLimits(configDir: string): { maxBatchSize?: number; maxBodyBytes?: number } {
  if (!fs.existsSync(path.join(configDir, 'pipeline.json'))) return {};
  const { loadProjectConfig } = require('../../../config/load') as typeof import('../../../config/load');
  const { serving } = loadProjectConfig(configDir).pipeline;
  return { maxBatchSize: serving.max_batch_size, maxBodyBytes: serving.max_body_bytes };
}

/** `--capture-percent` above 0: a capture writer into the workdir (flushed every minute and at shutdown). */
function localCapture(opts: ServeOptions, logger: import('../../common/logger').Logger): import('../../monitoring/capture').CaptureWriter | undefined {
  if (opts.capturePercent === 0) return undefined;
  const { CaptureWriter } = require('../../monitoring/capture') as typeof import('../../monitoring/capture');
  const { LocalObjectStore } = require('../../storage/local-store') as typeof import('../../storage/local-store');
  const { FIXED_PREFIXES } = require('../../contract/layout') as typeof import('../../contract/layout');
  return new CaptureWriter({ store: new LocalObjectStore(opts.workdir), prefix: `${FIXED_PREFIXES.dataCapture}local/mlstack/`, percent: opts.capturePercent, flushMs: 60_000, logger });
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('serve a model over HTTP with the SageMaker, Vertex AI and Azure ML routes (see docs/serving.md); SIGTERM drains')
    .requiredOption('--model <source>', 'registry version (e.g. v3), model package folder, or file:// s3:// gs:// az:// URI')
    .option('--port <n>', 'port (0 = a free one); default $AIP_HTTP_PORT, $PORT, $AML_PORT or 8080', parsePort)
    .option('--host <host>', 'interface to listen on', '0.0.0.0')
    .option('--workdir <dir>', 'local store holding the registry (for versions)', DEFAULT_WORKDIR)
    .option('--registry-uri <uri>', 'bucket root holding registry/ (s3:// gs:// az:// file://); overrides --workdir for versions')
    .option('--config-dir <dir>', 'configuration folder (project, serving.max_batch_size, max_body_bytes)', DEFAULT_CONFIG_DIR)
    .option(...PROJECT_OPTION)
    .option('--workers <n>', `server processes sharing the port: a number, or auto = one per usable core; default $${ENV.workers} or auto`, parseWorkersOption)
    .option('--capture-percent <n>', 'share of requests (0-100) written with their predictions as JSONL to data-capture/local/ in the --workdir store, for mlstack monitor', wholeNumber('--capture-percent', { max: 100 }), 0)
    .action(async (opts: ServeOptions) => {
      const { createLogger } = require('../../common/logger') as typeof import('../../common/logger');
      const { isServingWorker, parseWorkers } = require('../../serving/cluster') as typeof import('../../serving/cluster');
      const { loadPredictor } = require('../../serving/load') as typeof import('../../serving/load');
      const { runServingProcess } = require('../../serving/process') as typeof import('../../serving/process');
      const { startServer } = require('../../serving/server') as typeof import('../../serving/server');
      const logger = createLogger('serve');
      const workers = parseWorkers(opts.workers ?? process.env[ENV.workers], opts.workers === undefined ? ENV.workers : '--workers');
      const { lookupProject } = require('../../context') as typeof import('../../context');
      const limits = servingConfigLimits(opts.configDir);
      const project = lookupProject(opts.configDir, opts.project);
      let serving;
      try {
        serving = await runServingProcess(workers, logger, (extra) =>
          startServer({
            predictor: loadPredictor(opts.model, { workdir: opts.workdir, registryUri: opts.registryUri, project }),
            port: opts.port,
            host: opts.host,
            logger,
            ...limits,
            ...extra,
            capture: localCapture(opts, logger),
          }),
        );
      } catch (err) {
        const message = `cannot load model "${opts.model}": ${(err as Error).message}`;
        // A package that fails its manifest or schema is no usage mistake: it keeps its code (exit 1).
        if (err instanceof MlstackError && err.code === 'PACKAGE_INVALID') throw new MlstackError(err.code, message, { cause: err });
        throw new UsageError(message, { cause: err });
      }
      if (serving.url && !isServingWorker()) {
        const count = workers > 1 ? ` with ${workers} workers` : '';
        process.stdout.write(`serving model ${opts.model} at ${serving.url}${count} (POST /invocations, /predict, /score; GET /ping, /metrics)\n`);
      }
      const code = await serving.done;
      if (code !== 0) throw new Error('serving did not drain cleanly; see the log above');
    });
}
