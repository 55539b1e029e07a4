/**
 * A program for cluster-faults.test.ts: two serving workers, where worker 1's model fails to load and
 * worker 2 creates its server only after the primary's SIGTERM has reached it (a sibling still starting
 * when another fails). Exits with the failure's code once both workers are gone.
 */
import cluster from 'node:cluster';
import { NotFoundError, runMain } from '../../runtime/common/errors';
import { createLogger } from '../../runtime/common/logger';
import type { Predictor } from '../../runtime/serving/predictor';
import { runServingProcess } from '../../runtime/serving/process';
import { startServer } from '../../runtime/serving/server';

const predictor: Predictor = { version: 'v-late', features: ['x'], validateRow: () => null, predict: (rows) => rows.map(() => ({ prediction: 0 })) };

void runMain(
  'late-sibling',
  async () => {
    const logger = createLogger('serving', 'container');
    const id = cluster.worker?.id;
    const serving = await runServingProcess(2, logger, async (extra) => {
      // Worker 2 is still starting when the primary stops every worker: its server exists only after the SIGTERM.
      if (id === 2) await new Promise((resolve) => process.once('SIGTERM', resolve));
      const model = id === 1 ? Promise.reject(new NotFoundError('no model package here')) : predictor;
      return startServer({ predictor: model, port: 0, host: '127.0.0.1', logger, ...extra });
    });
    return serving.done;
  },
  { exit: true },
);
