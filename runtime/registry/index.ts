/**
 * The model registry: every trained model becomes an immutable version record with lineage,
 * stored as JSON at `<prefix><project>/versions/<version>.json`.
 *
 * The package must first match its manifest.json (materialise.ts verifyForRegistration); the record keeps
 * the manifest's sha256 (`manifest_sha256`). Registering a version then takes three steps, so a reader never
 * sees half a version and two concurrent registrations never share a number:
 *   1. claim vN with a create-if-absent object `<prefix><project>/claims/vN` (numbers already
 *      claimed or recorded are skipped);
 *   2. materialise: copy the package into `<models><project>/vN/` with its model.tar.gz;
 *   3. write the record `versions/vN.json` (create-if-absent).
 * Readers (get, list, latest) see only versions with a record; a registration that failed between
 * 1 and 3 leaves its number claimed and unused.
 */
import { FIXED_PREFIXES, registryClaimKey, registryClaimsPrefix, registryVersionKey, registryVersionsPrefix } from '../contract/layout';
import { getJson, ObjectExistsError, putJson, type ObjectStore } from '../storage/object-store';
import { materialiseVersion, verifyForRegistration, type MaterialiseInput } from './materialise';
import { MlstackError } from '../common/errors';

export type { MaterialiseInput, PackageSource } from './materialise';

export interface Lineage {
  data_hash: string;
  config_hash: string;
  code_version: string;
  run_id: string;
  parent_run?: string | null;
  /** The processed data the model was trained on. */
  data_uri?: string;
  /** Where the package was copied from (e.g. `<models><run>/`). */
  source_package_uri?: string;
}

export interface ModelVersion {
  version: string;
  project: string;
  created_at: string;
  /** Absolute URI of the package prefix (file://, s3://, gs://, az://): the version's own folder. */
  package_uri: string;
  /** The package prefix inside the registry's store: `<models><project>/<version>/`. */
  package_prefix: string;
  /**
   * Absolute URI of `<package_prefix>model.tar.gz`, what a SageMaker endpoint loads. Absent only on
   * records that name a package prefix as is (register() with packagePrefix, nothing materialised).
   */
  artifact_uri?: string;
  /** Absolute URI of the evaluation step's statistics in the version folder (AWS registration). */
  evaluation_uri?: string;
  metrics: Record<string, number>;
  lineage: Lineage;
  /** Set when the version was also registered as a SageMaker model package. */
  sagemaker_model_package_arn?: string;
  /**
   * The sha256 of the version's manifest.json (runtime/model/manifest.ts): loading and promotion refuse the
   * version when its manifest differs. Absent only on records written before packages carried a manifest.
   */
  manifest_sha256?: string;
}

/** Fields added to a record after its files exist (and before it is written). */
export type VersionAnnotations = Pick<ModelVersion, 'sagemaker_model_package_arn'>;

export interface RegisterInput {
  project: string;
  metrics: Record<string, number>;
  lineage: Lineage;
  /** Copies this package into the version's folder with its model.tar.gz (every registration path does). */
  materialise?: MaterialiseInput;
  /** Without `materialise`: records an existing package prefix of the registry's store as is (nothing copied). */
  packagePrefix?: string;
  /** Runs once the version's files are written, before its record: what it returns joins the record. */
  beforeRecord?: (draft: ModelVersion) => Promise<VersionAnnotations>;
}

export class UnknownVersionError extends MlstackError {
  constructor(project: string, version: string, known: string[]) {
    super(
      'NOT_FOUND',
      `model version "${version}" is not registered for project "${project}"; known versions: ${known.length ? known.join(', ') : '(none yet: run `mlstack train` or `mlstack register` first)'}`,
    );
    this.name = 'UnknownVersionError';
  }
}

const VERSION_PATTERN = /^v([1-9]\d*)$/;
const PROJECT_PATTERN = /^[a-z][a-z0-9-]{1,30}$/;
const MAX_ALLOCATION_ATTEMPTS = 50;

export function versionNumber(version: string): number {
  const match = VERSION_PATTERN.exec(version);
  if (!match) throw new Error(`invalid model version "${version}": versions look like v1, v2, ...`);
  return Number(match[1]);
}

function withSlash(prefix: string): string {
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}

export class ModelRegistry {
  constructor(
    readonly store: ObjectStore,
    readonly prefix: string = FIXED_PREFIXES.registry,
    /** Project whose versions get/list/latest read; register() records under input.project. */
    readonly project?: string,
  ) {}

  private keyOf(project: string, version: string): string {
    return registryVersionKey({ registry: this.prefix }, project, version);
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

  /** Version names of the objects directly under a folder (`versions/v3.json`, `claims/v4`), sorted by number. */
  private async namesUnder(folder: string): Promise<string[]> {
    return (await this.store.list(folder))
      .map((o) => o.key.slice(folder.length).replace(/\.json$/, ''))
      .filter((v) => VERSION_PATTERN.test(v))
      .sort((a, b) => versionNumber(a) - versionNumber(b));
  }

  private async versionNames(project: string): Promise<string[]> {
    if (!project) return [];
    return this.namesUnder(registryVersionsPrefix({ registry: this.prefix }, project));
  }

  /** Takes the next free version number with a create-if-absent claim; numbers claimed or recorded are never reused. */
  async claim(project: string): Promise<string> {
    if (!PROJECT_PATTERN.test(project)) throw new Error(`invalid project name "${project}" for the registry`);
    const taken = [...(await this.namesUnder(registryClaimsPrefix({ registry: this.prefix }, project))), ...(await this.versionNames(project))].map(versionNumber);
    let next = Math.max(0, ...taken) + 1;
    for (let attempt = 0; attempt < MAX_ALLOCATION_ATTEMPTS; attempt++, next++) {
      const version = `v${next}`;
      try {
        await putJson(this.store, registryClaimKey({ registry: this.prefix }, project, version), { version, claimed_at: new Date().toISOString() }, { ifNotExists: true });
        return version;
      } catch (err) {
        if (!(err instanceof ObjectExistsError)) throw err;
      }
    }
    throw new Error(`could not allocate a model version for "${project}" after ${MAX_ALLOCATION_ATTEMPTS} attempts (heavy concurrent registration?)`);
  }

  async register(input: RegisterInput): Promise<ModelVersion> {
    if (!PROJECT_PATTERN.test(input.project)) throw new Error(`invalid project name "${input.project}" for the registry`);
    if (!input.materialise && input.packagePrefix === undefined) throw new Error('register() needs the package: materialise (copy it into the version folder) or packagePrefix');
    // Checked before a number is claimed: a package that does not match its manifest is never registered.
    const verified = input.materialise
      ? await verifyForRegistration(input.materialise.source)
      : await verifyForRegistration({ store: this.store, prefix: withSlash(input.packagePrefix as string) }, { allowUnverified: false });
    const version = await this.claim(input.project);
    const files: { packagePrefix: string; artifactKey?: string; evaluationKey?: string } = input.materialise
      ? await materialiseVersion(this.store, input.project, version, input.materialise, verified)
      : { packagePrefix: withSlash(input.packagePrefix as string) };
    let record: ModelVersion = {
      version,
      project: input.project,
      created_at: new Date().toISOString(),
      package_uri: files.packagePrefix ? this.store.uri(files.packagePrefix) : this.store.root,
      package_prefix: files.packagePrefix,
      ...(files.artifactKey ? { artifact_uri: this.store.uri(files.artifactKey) } : {}),
      ...(files.evaluationKey ? { evaluation_uri: this.store.uri(files.evaluationKey) } : {}),
      metrics: input.metrics,
      lineage: { parent_run: null, ...input.lineage },
      manifest_sha256: verified.manifestSha256,
    };
    if (input.beforeRecord) record = { ...record, ...(await input.beforeRecord(record)) };
    await putJson(this.store, this.keyOf(input.project, version), record, { ifNotExists: true });
    return record;
  }

  /** Adds fields to a version record (e.g. the SageMaker model package ARN); the version itself never changes. */
  async annotate(version: string, fields: VersionAnnotations): Promise<ModelVersion> {
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
