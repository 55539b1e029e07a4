/**
 * Materialising a version: the package is copied into the version's own folder,
 * `<models><project>/<version>/`, beside `model.tar.gz` packed from the same files (what a SageMaker
 * endpoint unpacks into /opt/ml/model). The version then never depends on the run folder it came from.
 * Nothing is registered unless the package's files match its manifest.json (verifyForRegistration); the
 * record keeps the manifest's sha256, which loading and promotion check the version's manifest against.
 */
import { Readable } from 'node:stream';
import { EVALUATION_FILE, MODEL_ARCHIVE, versionArchiveKey, versionPrefix } from '../contract/layout';
import { packTarGz, type ArchiveEntry } from '../model/archive';
import { buildManifest, verifyPackageFiles, type PackageTrust } from '../model/manifest';
import { PACKAGE_FILES } from '../model/package';
import type { ObjectStore } from '../storage/object-store';
import { NotFoundError } from '../common/errors';
import { ENV } from '../contract/env';

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
    throw new NotFoundError(`no model package at ${prefix ? source.store.uri(prefix) : source.store.root}: ${PACKAGE_FILES.metadata} is missing (was training completed?)`);
  }
  return objects.map((o) => ({ name: o.key.slice(prefix.length), size: o.size, open: () => source.store.stream(o.key) }));
}

/** A package checked before it is registered: its manifest's sha256 (what the record keeps). */
export interface VerifiedPackage {
  manifestSha256: string;
  /** The manifest registration wrote for a package without one (adopted with MLSTACK_ALLOW_UNVERIFIED_PACKAGES=1). */
  adoptedManifest?: string;
}

/**
 * Refuses to register a package whose files do not match its manifest.json (named, with both hashes), or
 * that has none; with unverified packages allowed, a package without a manifest is adopted: its files are
 * hashed as they are now into a manifest the version gets.
 */
export async function verifyForRegistration(source: PackageSource, trust: PackageTrust = {}): Promise<VerifiedPackage> {
  await packageFiles(source);
  const verified = await verifyPackageFiles(source.store, source.prefix, { ...trust, warn: () => undefined });
  if (verified) return { manifestSha256: verified.sha256 };
  const { text, sha256 } = await buildManifest(source.store, source.prefix);
  const where = source.prefix ? source.store.uri(withSlash(source.prefix)) : source.store.root;
  (trust.warn ?? ((m: string) => process.emitWarning(m, 'MlstackUnverifiedPackage')))(
    `model package ${where} has no ${PACKAGE_FILES.manifest}: registering it with a manifest of its files as they are now, because ${ENV.allowUnverifiedPackages}=1`,
  );
  return { manifestSha256: sha256, adoptedManifest: text };
}

/**
 * Copies the package files (metadata.json, then manifest.json last), writes the evaluation when given, then
 * streams model.tar.gz (the manifest inside). `verified` is what verifyForRegistration found.
 */
export async function materialiseVersion(store: ObjectStore, project: string, version: string, input: MaterialiseInput, verified?: VerifiedPackage): Promise<MaterialisedVersion> {
  const paths = { models: input.modelsPrefix };
  const target = versionPrefix(paths, version);
  const found = await packageFiles(input.source);
  const adopted = verified?.adoptedManifest;
  const files: ArchiveEntry[] = adopted === undefined ? found : [...found, { name: PACKAGE_FILES.manifest, size: Buffer.byteLength(adopted), open: () => Readable.from([Buffer.from(adopted)]) }];
  const rank = (name: string) => (name === PACKAGE_FILES.manifest ? 2 : name === PACKAGE_FILES.metadata ? 1 : 0);
  const ordered = [...files].sort((a, b) => rank(a.name) - rank(b.name));
  for (const file of ordered) await store.put(`${target}${file.name}`, await file.open());
  let evaluationKey: string | undefined;
  if (input.evaluation !== undefined) {
    evaluationKey = `${target}${EVALUATION_FILE}`;
    await store.put(evaluationKey, input.evaluation, { contentType: 'application/json' });
  }
  const artifactKey = versionArchiveKey(paths, version);
  await store.put(artifactKey, packTarGz(files), { contentType: 'application/gzip' });
  return { packagePrefix: target, artifactKey, ...(evaluationKey ? { evaluationKey } : {}) };
}
