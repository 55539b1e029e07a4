/**
 * What `mlstack ui` shows, read fresh from the store on every request (a local folder or a bucket): the
 * experiments (projects with tracked runs or registered versions), their runs, their versions, where each
 * version is pinned and its HTML report. Read-only: nothing here writes.
 */
import type { RunContext } from '../context';
import { NotFoundError } from '../common/errors';
import { PACKAGE_FILES } from '../model/package';
import { ModelRegistry, type ModelVersion } from '../registry';
import { pinnedVersions } from '../registry/pins';
import { RunTracker, type RunRecord } from '../tracking';

export interface Experiment {
  name: string;
  runs: number;
  versions: number;
}

/** The first path segment of every key under `prefix`: the projects that prefix holds. */
async function projectsUnder(ctx: RunContext, prefix: string): Promise<string[]> {
  const keys = (await ctx.store.list(prefix)).map((o) => o.key.slice(prefix.length));
  return [...new Set(keys.filter((k) => k.indexOf('/') > 0).map((k) => k.split('/')[0]))];
}

export class UiCatalog {
  constructor(readonly ctx: RunContext) {}

  /** The configured project first, then every other project the store holds runs or versions of. */
  async experiments(): Promise<Experiment[]> {
    const names = new Set([this.ctx.project.pipeline.project, ...(await projectsUnder(this.ctx, this.ctx.paths.tracking)), ...(await projectsUnder(this.ctx, this.ctx.paths.registry))]);
    return Promise.all([...names].map(async (name) => ({ name, runs: (await this.tracker(name).ids()).length, versions: (await this.registry(name).list()).length })));
  }

  runs(project: string): Promise<RunRecord[]> {
    return this.tracker(project).list();
  }

  run(project: string, runId: string): Promise<RunRecord> {
    return this.tracker(project).get(runId);
  }

  versions(project: string): Promise<ModelVersion[]> {
    return this.registry(project).list();
  }

  version(project: string, version: string): Promise<ModelVersion> {
    return this.registry(project).get(version);
  }

  /** Each environment's pinned version, from config/environments; known only for the configured project. */
  pins(project: string): Record<string, string | null> | undefined {
    return project === this.ctx.project.pipeline.project ? pinnedVersions(this.ctx.project) : undefined;
  }

  /** The version's report.html as training wrote it into the package. */
  async report(project: string, version: string): Promise<Buffer> {
    const record = await this.version(project, version);
    const key = `${record.package_prefix}${PACKAGE_FILES.report}`;
    if (!(await this.ctx.store.exists(key))) throw new NotFoundError(`version ${version} of ${project} has no report: ${this.ctx.store.uri(key)} is missing`);
    return this.ctx.store.get(key);
  }

  private tracker(project: string): RunTracker {
    return new RunTracker(this.ctx.store, project, this.ctx.paths);
  }

  private registry(project: string): ModelRegistry {
    return new ModelRegistry(this.ctx.store, this.ctx.paths.registry, project);
  }
}
