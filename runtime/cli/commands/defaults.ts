/**
 * Values the command definitions show in `--help`, kept here so defining the commands imports neither
 * config/ nor runtime/serving: config/schema.ts builds its zod schemas on import, which costs more than
 * the rest of `mlstack --help` together. Each mirrors the value its owner uses, and test/cli/lazy-commands.test.ts
 * fails when the two drift apart.
 */

/** config/load.ts DEFAULT_CONFIG_DIR: the configuration folder when --config-dir is not given. */
export const DEFAULT_CONFIG_DIR = 'config';

/** runtime/serving/batch.ts BATCH_FORMATS: what `batch --format` accepts. */
export const BATCH_FORMATS = ['csv', 'jsonl'] as const;

/** config/schema.ts's tuning.strategy values: what `tune --strategy` accepts. */
export const TUNING_STRATEGIES = ['random', 'successive_halving'] as const;

/** runtime/serving/invoke.ts INVOKE_CLOUDS: where `invoke --cloud` finds an endpoint. */
export const INVOKE_CLOUDS = ['aws', 'gcp', 'azure', 'local'] as const;
