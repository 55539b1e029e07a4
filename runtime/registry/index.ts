/**
 * The model registry: every trained model becomes an immutable version record with lineage,
 * stored as JSON at `<prefix><project>/versions/<version>.json`. Versions v1, v2, ... are
 * allocated with create-if-absent puts, so concurrent registrations never share a number.
 */
import { getJson, ObjectExistsError, putJson, type ObjectStore } from '../storage/object-store';

export interface Lineage {
  data_hash: string;
  config_hash: string;
  code_version: string;
  run_id: string;
  parent_run?: string | null;
  data_uri?: string;
}

export interface ModelVersion {
  version: string;
  project: string;
  created_at: string;
  /** Absolute URI of the package prefix (file://, s3://, gs://, az://). */
  package_uri: string;
  /** The package prefix inside the registry's store. */
  package_prefix: string;
  metrics: Record<string, number>;
  lineage: Lineage;
  /** Set when `--cloud aws` also registered a SageMaker model package. */
  sagemaker_model_package_arn?: string;
}

export interface RegisterInput {
  project: string;
  packagePrefix: string;
  metrics: Record<string, number>;
  lineage: Lineage;
}

export class UnknownVersionError extends Error {
  constructor(project: string, version: string, known: string[]) {
    super(
      `model version "${version}" is not registered for project "${project}"; known versions: ${known.length ? known.join(', ') : '(none yet: run `mlstack train` or `mlstack register` first)'}`,
    );
    this.name = 'UnknownVersionError';
  }
}

const VERSION_PATTERN = /^v([1-9]\d*)$/;
const MAX_ALLOCATION_ATTEMPTS = 50;

export function versionNumber(version: string): number {
  const match = VERSION_PATTERN.exec(version);
  if (!match) throw new Error(`invalid model version "${version}": versions look like v1, v2, ...`);
  return Number(match[1]);
}

export class ModelRegistry {
  constructor(
    readonly store: ObjectStore,
    readonly prefix = 'registry/',
    /** Project whose versions get/list/latest read; register() records under input.project. */
    readonly project?: string,
  ) {}

  private versionsPrefix(project: string): string {
    return `${this.prefix}${project}/versions/`;
  }

  private keyOf(project: string, version: string): string {
    return `${this.versionsPrefix(project)}${version}.json`;
  }

  private async projectOrOnly(): Promise<string> {
    if (this.project) return this.project;
    const projects = new Set(
      (await this.store.list(this.prefix)).map((o) => o.key.slice(this.prefix.length).split('/')[0]).filter((p) => p.length > 0),
    );
    if (projects.size === 1) return [...projects][0];
    if (projects.size === 0) return '';
    throw new Error(`the registry at ${this.store.uri(this.prefix)} holds several projects (${[...projects].join(', ')}): construct ModelRegistry with the project name`);
  }

  private async versionNames(project: string): Promise<string[]> {
    if (!project) return [];
    return (await this.store.list(this.versionsPrefix(project)))
      .map((o) => o.key.slice(this.versionsPrefix(project).length).replace(/\.json$/, ''))
      .filter((v) => VERSION_PATTERN.test(v))
      .sort((a, b) => versionNumber(a) - versionNumber(b));
  }

  async register(input: RegisterInput): Promise<ModelVersion> {
    if (!/^[a-z][a-z0-9-]{1,30}$/.test(input.project)) throw new Error(`invalid project name "${input.project}" for the registry`);
    const packagePrefix = input.packagePrefix.endsWith('/') || input.packagePrefix === '' ? input.packagePrefix : `${input.packagePrefix}/`;
    const existing = await this.versionNames(input.project);
    let next = existing.length ? versionNumber(existing[existing.length - 1]) + 1 : 1;
    for (let attempt = 0; attempt < MAX_ALLOCATION_ATTEMPTS; attempt++, next++) {
      const record: ModelVersion = {
        version: `v${next}`,
        project: input.project,
        created_at: new Date().toISOString(),
        package_uri: this.store.uri(packagePrefix || 'metadata.json').replace(/metadata\.json$/, ''),
        package_prefix: packagePrefix,
        metrics: input.metrics,
        lineage: { parent_run: null, ...input.lineage },
      };
      try {
        await putJson(this.store, this.keyOf(input.project, record.version), record, { ifNotExists: true });
        return record;
      } catch (err) {
        if (!(err instanceof ObjectExistsError)) throw err;
      }
    }
    throw new Error(`could not allocate a model version for "${input.project}" after ${MAX_ALLOCATION_ATTEMPTS} attempts (heavy concurrent registration?)`);
  }

  /** Adds fields to a version record (e.g. the SageMaker model package ARN); the version itself never changes. */
  async annotate(version: string, fields: Pick<ModelVersion, 'sagemaker_model_package_arn'>): Promise<ModelVersion> {
    const record = await this.get(version);
    const updated = { ...record, ...fields };
    await putJson(this.store, this.keyOf(record.project, version), updated);
    return updated;
  }

  async get(version: string): Promise<ModelVersion> {
    const project = await this.projectOrOnly();
    const key = project ? this.keyOf(project, version) : '';
    if (!VERSION_PATTERN.test(version) || !project || !(await this.store.exists(key))) {
      throw new UnknownVersionError(project || this.project || '(none)', version, await this.versionNames(project));
    }
    return getJson<ModelVersion>(this.store, key);
  }

  async list(): Promise<ModelVersion[]> {
    const project = await this.projectOrOnly();
    const names = await this.versionNames(project);
    return Promise.all(names.map((v) => getJson<ModelVersion>(this.store, this.keyOf(project, v))));
  }

  async latest(): Promise<ModelVersion | null> {
    const project = await this.projectOrOnly();
    const names = await this.versionNames(project);
    return names.length ? getJson<ModelVersion>(this.store, this.keyOf(project, names[names.length - 1])) : null;
  }
}
