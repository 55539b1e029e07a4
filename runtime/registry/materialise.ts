/**
 * Materialising a version: the package is copied into the version's own folder,
 * `<models><project>/<version>/`, beside `model.tar.gz` packed from the same files (what a SageMaker
 * endpoint unpacks into /opt/ml/model). The version then never depends on the run folder it came from.
 */
import { EVALUATION_FILE, MODEL_ARCHIVE, versionArchiveKey, versionPrefix } from '../contract/layout';
import { packTarGz, type ArchiveEntry } from '../model/archive';
import { PACKAGE_FILES } from '../model/package';
import type { ObjectStore } from '../storage/object-store';

/** A package: its store and prefix ('' or ending with '/'). */
export interface PackageSource {
  store: ObjectStore;
  prefix: string;
}

export interface MaterialiseInput {
  source: PackageSource;
  /** The `<models>` prefix of the registry's store (storagePaths().models). */
  modelsPrefix: string;
  /** The evaluation step's statistics, kept beside the package (not in its archive). */
  evaluation?: Buffer | string;
}

export interface MaterialisedVersion {
  packagePrefix: string;
  artifactKey: string;
  evaluationKey?: string;
}

function withSlash(prefix: string): string {
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}

/** The package's files relative to its prefix, read only when copied or packed; an archive already there is not part of the package. */
export async function packageFiles(source: PackageSource): Promise<ArchiveEntry[]> {
  const prefix = withSlash(source.prefix);
  const objects = (await source.store.list(prefix)).filter((o) => o.key.slice(prefix.length) !== MODEL_ARCHIVE);
  if (!objects.some((o) => o.key === prefix + PACKAGE_FILES.metadata)) {
    throw new Error(`no model package at ${prefix ? source.store.uri(prefix) : source.store.root}: ${PACKAGE_FILES.metadata} is missing (was training completed?)`);
  }
  return objects.map((o) => ({ name: o.key.slice(prefix.length), size: o.size, open: () => source.store.stream(o.key) }));
}

/** Copies the package files (metadata.json last), writes the evaluation when given, then streams model.tar.gz. */
export async function materialiseVersion(store: ObjectStore, project: string, version: string, input: MaterialiseInput): Promise<MaterialisedVersion> {
  const paths = { models: input.modelsPrefix };
  const target = versionPrefix(paths, project, version);
  const files = await packageFiles(input.source);
  const ordered = [...files.filter((f) => f.name !== PACKAGE_FILES.metadata), ...files.filter((f) => f.name === PACKAGE_FILES.metadata)];
  for (const file of ordered) await store.put(`${target}${file.name}`, await file.open());
  let evaluationKey: string | undefined;
  if (input.evaluation !== undefined) {
    evaluationKey = `${target}${EVALUATION_FILE}`;
    await store.put(evaluationKey, input.evaluation, { contentType: 'application/json' });
  }
  const artifactKey = versionArchiveKey(paths, project, version);
  await store.put(artifactKey, packTarGz(files), { contentType: 'application/gzip' });
  return { packagePrefix: target, artifactKey, ...(evaluationKey ? { evaluationKey } : {}) };
}
