/**
 * Experiment tracking beside the registry, in the same store (a local folder or a bucket): a run is one JSON
 * record at `tracking/<project>/runs/<run>.json` (runtime/contract/layout.ts), written whole by the training
 * step when the run ends. A put is atomic on every ObjectStore (local: temp file then rename; buckets: one
 * object PUT), so a reader sees the previous record or the new one, never a part.
 */
import { FIXED_PREFIXES, trackingRunKey, trackingRunsPrefix, type StoragePaths } from '../contract/layout';
import { InvalidInputError, NotFoundError } from '../common/errors';
import { getJson, putJson, type ObjectStore } from '../storage/object-store';
import { runRecordSchema, type RunRecord } from './record';

export { RUN_RECORD_FORMAT, RUN_SOURCES, runRecordSchema, type ParamValue, type RunRecord, type RunSource } from './record';
export { compareRuns, filterRuns, parseFilter, sideBySideRows, sortRuns, type Comparison, type ComparisonRow, type RunFilter } from './query';

export class UnknownRunError extends NotFoundError {
  constructor(project: string, runId: string, known: string[]) {
    const list = known.length ? known.slice(-10).join(', ') : '(none yet: run `mlstack train` or `mlstack pipeline` first)';
    super(`run "${runId}" is not tracked for project "${project}"; tracked runs: ${list}`);
    this.name = 'UnknownRunError';
  }
}

export class RunTracker {
  private readonly paths: Pick<StoragePaths, 'tracking'>;

  constructor(
    readonly store: ObjectStore,
    readonly project: string,
    paths: Pick<StoragePaths, 'tracking'> = FIXED_PREFIXES,
  ) {
    this.paths = paths;
  }

  /** Writes (or rewrites, for a resumed run) the run's record; validated first, so a bad record is never stored. */
  async write(record: RunRecord): Promise<string> {
    const parsed = runRecordSchema.parse(record);
    const key = trackingRunKey(this.paths, this.project, parsed.run_id);
    await putJson(this.store, key, parsed);
    return key;
  }

  /** Run ids with a record, oldest first by name (run ids start with a timestamp). */
  async ids(): Promise<string[]> {
    const prefix = trackingRunsPrefix(this.paths, this.project);
    return (await this.store.list(prefix))
      .map((o) => o.key.slice(prefix.length))
      .filter((k) => k.endsWith('.json') && !k.includes('/'))
      .map((k) => k.slice(0, -'.json'.length))
      .sort();
  }

  async get(runId: string): Promise<RunRecord> {
    const key = trackingRunKey(this.paths, this.project, runId);
    if (!(await this.store.exists(key))) throw new UnknownRunError(this.project, runId, await this.ids());
    return this.parse(key, await getJson<unknown>(this.store, key));
  }

  async list(): Promise<RunRecord[]> {
    const ids = await this.ids();
    return Promise.all(ids.map(async (id) => this.parse(trackingRunKey(this.paths, this.project, id), await getJson<unknown>(this.store, trackingRunKey(this.paths, this.project, id)))));
  }

  private parse(key: string, doc: unknown): RunRecord {
    const parsed = runRecordSchema.safeParse(doc);
    if (parsed.success) return parsed.data;
    const problems = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new InvalidInputError(`tracked run ${this.store.uri(key)} is not a valid run record (${problems}): delete it or train the run again`);
  }
}
