/**
 * The stored format of a tracked run (`tracking/<project>/runs/<run>.json`): one JSON document per run, validated
 * with zod when read, so a hand-edited or truncated record fails naming its key instead of showing half a run.
 */
import { z } from 'zod';

export const RUN_RECORD_FORMAT = 1;

/** A parameter's value: what training_params and the model section hold after defaults and overrides. */
const scalar = z.union([z.string(), z.number(), z.boolean(), z.null()]);
export const paramValueSchema = z.union([scalar, z.array(scalar)]);
export type ParamValue = z.infer<typeof paramValueSchema>;

/** Where a run came from: `mlstack train`, `mlstack pipeline` or a tuning trial (`mlstack tune`). */
export const RUN_SOURCES = ['train', 'pipeline', 'tune'] as const;
export type RunSource = (typeof RUN_SOURCES)[number];

export const runRecordSchema = z.object({
  format_version: z.literal(RUN_RECORD_FORMAT),
  run_id: z.string().min(1),
  /** The experiment: the config's project. */
  experiment: z.string().min(1),
  source: z.enum(RUN_SOURCES),
  status: z.literal('finished'),
  started_at: z.string(),
  finished_at: z.string(),
  /** Every resolved training parameter (flat keys: `learning_rate`, `model.type`, ...), the seed and the splits. */
  params: z.record(z.string(), paramValueSchema),
  /** Test-split metrics of the final model. */
  metrics: z.record(z.string(), z.number()),
  /** Validation metrics of the best epoch. */
  validation: z.record(z.string(), z.number()),
  /** One record per epoch: loss, lr, validation metrics, cpu_percent, rss_mb (gpu_* where a GPU answered). */
  epochs: z.array(z.record(z.string(), z.number())),
  /** Process CPU seconds, wall seconds, peak RSS; the tf backend; GPU peaks where present. */
  system: z.record(z.string(), z.union([z.number(), z.string()])),
  tags: z.record(z.string(), z.string()),
  /** URIs of what the run wrote: package, report, epoch log. */
  artifacts: z.record(z.string(), z.string()),
  lineage: z.object({
    data_uri: z.string(),
    data_hash: z.string(),
    config_hash: z.string(),
    code_version: z.string(),
    parent_run: z.string().nullable(),
    env: z.string().nullable(),
    cloud: z.string().nullable(),
  }),
});

export type RunRecord = z.infer<typeof runRecordSchema>;
