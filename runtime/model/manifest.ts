/**
 * A model package's manifest.json: the SHA-256 and size of every other file of the package, written last
 * at training, so any later change (an edited, truncated, added or removed file) is caught before the
 * package is registered, served, evaluated or promoted. A registry record keeps the sha256 of the
 * manifest itself (`manifest_sha256`), so a version's manifest cannot be rewritten to match edited files.
 *
 *   { "format_version": 1, "files": { "metadata.json": { "sha256": "<hex>", "bytes": 812 }, ... } }
 *
 * The files a registered version's folder holds beside its package (model.tar.gz, evaluation.json) are
 * not package files: the archive is packed from the package, manifest included.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { z } from 'zod';
import { MlstackError } from '../common/errors';
import { ENV } from '../contract/env';
import { EVALUATION_FILE, MODEL_ARCHIVE } from '../contract/layout';
import type { ObjectInfo, ObjectStore } from '../storage/object-store';

export const MANIFEST_FILE = 'manifest.json';
export const MANIFEST_FORMAT_VERSION = 1;

/** Files a version folder holds beside its package, outside the manifest. */
const BESIDE_PACKAGE = new Set<string>([MODEL_ARCHIVE, EVALUATION_FILE]);

const SHA256_HEX = /^[0-9a-f]{64}$/;

const fileDigestSchema = z.strictObject({
  sha256: z.string().regex(SHA256_HEX, 'must be 64 lowercase hex digits'),
  bytes: z.number().int().nonnegative(),
});

const manifestSchema = z.strictObject({
  format_version: z.literal(MANIFEST_FORMAT_VERSION),
  files: z.record(z.string().min(1), fileDigestSchema),
});

export type FileDigest = z.infer<typeof fileDigestSchema>;
export type PackageManifest = z.infer<typeof manifestSchema>;

/** A package that failed its integrity or schema check (exit 1): it is never registered, served or promoted. */
export class PackageInvalidError extends MlstackError {
  constructor(message: string) {
    super('PACKAGE_INVALID', message);
    this.name = 'PackageInvalidError';
  }
}

export function sha256Hex(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

export function digestOf(bytes: Buffer): FileDigest {
  return { sha256: sha256Hex(bytes), bytes: bytes.byteLength };
}

async function digestStream(stream: Readable): Promise<FileDigest> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream) {
    hash.update(chunk as Buffer);
    bytes += (chunk as Buffer).byteLength;
  }
  return { sha256: hash.digest('hex'), bytes };
}

function withSlash(prefix: string): string {
  return prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
}

/** Where a package is, for messages: its URI (the store root for prefix ''). */
export function packageLabel(store: ObjectStore, prefix: string): string {
  return prefix ? store.uri(withSlash(prefix)) : store.root;
}

/** The package's files (every object under the prefix but the manifest and what sits beside a package), relative names. */
export async function listPackageFiles(store: ObjectStore, prefix: string): Promise<ObjectInfo[]> {
  const base = withSlash(prefix);
  return (await store.list(base))
    .map((o) => ({ ...o, key: o.key.slice(base.length) }))
    .filter((o) => o.key !== MANIFEST_FILE && !BESIDE_PACKAGE.has(o.key));
}

/** The manifest's bytes: keys sorted, so the same files always give the same manifest and hash. */
export function manifestText(files: Record<string, FileDigest>): string {
  const sorted = Object.fromEntries(Object.keys(files).sort().map((name) => [name, files[name]]));
  return JSON.stringify({ format_version: MANIFEST_FORMAT_VERSION, files: sorted }, null, 2) + '\n';
}

/**
 * Hashes every package file under `prefix`; `known` holds the bytes of files the caller has just written
 * (hashed without reading them back). Returns the manifest's text and its sha256.
 */
export async function buildManifest(store: ObjectStore, prefix: string, known: ReadonlyMap<string, Buffer> = new Map()): Promise<{ text: string; sha256: string }> {
  const base = withSlash(prefix);
  const files: Record<string, FileDigest> = {};
  for (const { key } of await listPackageFiles(store, base)) {
    const bytes = known.get(key);
    files[key] = bytes ? digestOf(bytes) : await digestStream(await store.stream(base + key));
  }
  const text = manifestText(files);
  return { text, sha256: sha256Hex(text) };
}

/** Writes `<prefix>manifest.json` over the package's files: the last write of a package. Returns the manifest's sha256. */
export async function writeManifest(store: ObjectStore, prefix: string, known?: ReadonlyMap<string, Buffer>): Promise<string> {
  const { text, sha256 } = await buildManifest(store, prefix, known);
  await store.put(withSlash(prefix) + MANIFEST_FILE, text, { contentType: 'application/json' });
  return sha256;
}

/** How far to trust a package: the registry record that anchors its manifest, and the opt-out for packages older than manifests. */
export interface PackageTrust {
  /**
   * The registry version the package is loaded as (`v3`): its record's `manifest_sha256` must equal the
   * manifest's hash, and a record without one (registered before manifests) is refused like a missing manifest.
   */
  registered?: { version: string; manifestSha256?: string };
  /** Accept a package without manifest.json (and a record without manifest_sha256), with a warning. @default MLSTACK_ALLOW_UNVERIFIED_PACKAGES=1 */
  allowUnverified?: boolean;
  /** Where that warning goes. @default process.emitWarning */
  warn?: (message: string) => void;
}

export function allowUnverifiedFromEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  return env[ENV.allowUnverifiedPackages] === '1';
}

/** A manifest read and checked against its record: null when the package has none and that is allowed. */
export interface VerifiedManifest {
  manifest: PackageManifest;
  sha256: string;
}

function legacyAdvice(): string {
  return (
    `Retrain it; or, only for a package you trust, set ${ENV.allowUnverifiedPackages}=1 to load it unverified ` +
    `or to re-register it (the new version's manifest records its files as they are now)`
  );
}

function refuseOrWarn(trust: PackageTrust, message: string): null {
  if (!(trust.allowUnverified ?? allowUnverifiedFromEnv())) throw new PackageInvalidError(`${message}. ${legacyAdvice()}`);
  (trust.warn ?? ((m: string) => process.emitWarning(m, 'MlstackUnverifiedPackage')))(`${message}; loading it unverified because ${ENV.allowUnverifiedPackages}=1`);
  return null;
}

/**
 * Reads `<prefix>manifest.json`, checks its hash against the registry record (when the package is a registry
 * version) and its shape. A missing manifest (or a record without manifest_sha256) is refused unless
 * unverified packages are allowed, when it returns null after a warning.
 */
export async function readManifest(store: ObjectStore, prefix: string, trust: PackageTrust = {}): Promise<VerifiedManifest | null> {
  const base = withSlash(prefix);
  const where = packageLabel(store, base);
  const present = await store.exists(base + MANIFEST_FILE);
  let registered = trust.registered;
  if (registered && registered.manifestSha256 === undefined) {
    refuseOrWarn(trust, `registry version ${registered.version} (${where}) was registered before packages carried a manifest (its record has no manifest_sha256)`);
    // Allowed: the package's own manifest, when it has one, is still checked (nothing anchors it).
    registered = undefined;
    if (!present) return null;
  }
  if (!present) {
    if (registered) throw new PackageInvalidError(`model package ${where}: ${MANIFEST_FILE} is missing, but registry version ${registered.version} recorded one (manifest_sha256 ${registered.manifestSha256}): the package was changed after registration`);
    return refuseOrWarn(trust, `model package ${where} has no ${MANIFEST_FILE}: it was written before packages carried a manifest, the file was removed, or training did not finish`);
  }
  const bytes = await store.get(base + MANIFEST_FILE);
  const sha256 = sha256Hex(bytes);
  if (registered && sha256 !== registered.manifestSha256) {
    throw new PackageInvalidError(
      `model package ${where}: ${MANIFEST_FILE} does not match registry version ${registered.version} (expected sha256 ${registered.manifestSha256}, found ${sha256}): the package was changed after registration`,
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new PackageInvalidError(`model package ${where}: ${MANIFEST_FILE} is not valid JSON (${(err as Error).message})`);
  }
  const parsed = manifestSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PackageInvalidError(`model package ${where}: ${MANIFEST_FILE}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return { manifest: parsed.data, sha256 };
}

/** Checks one file's bytes (or digest) against the manifest; the message names the file and both hashes. */
export function checkFile(manifest: PackageManifest, where: string, name: string, found: FileDigest): void {
  const expected = manifest.files[name];
  if (!expected) throw new PackageInvalidError(`model package ${where}: ${name} is not listed in ${MANIFEST_FILE}: a file was added after training; remove it or retrain`);
  if (expected.sha256 !== found.sha256 || expected.bytes !== found.bytes) {
    throw new PackageInvalidError(
      `model package ${where}: ${name} does not match ${MANIFEST_FILE} (expected sha256 ${expected.sha256}, ${expected.bytes} bytes; ` +
        `found sha256 ${found.sha256}, ${found.bytes} bytes): the file was changed after training; retrain, or restore it from the registered version`,
    );
  }
}

/**
 * Compares the package's listing with the manifest: a listed file that is missing, or a file the manifest
 * does not list, is named (no file is read; checkFile compares contents). Returns the listing.
 */
export async function checkListing(store: ObjectStore, prefix: string, manifest: PackageManifest): Promise<ObjectInfo[]> {
  const where = packageLabel(store, prefix);
  const files = await listPackageFiles(store, prefix);
  const present = new Set(files.map((f) => f.key));
  for (const [name, digest] of Object.entries(manifest.files)) {
    if (!present.has(name)) throw new PackageInvalidError(`model package ${where}: ${name} is listed in ${MANIFEST_FILE} (sha256 ${digest.sha256}) but missing`);
  }
  for (const file of files) {
    if (!(file.key in manifest.files)) throw new PackageInvalidError(`model package ${where}: ${file.key} is not listed in ${MANIFEST_FILE}: a file was added after training; remove it or retrain`);
  }
  return files;
}

/** Streams one listed file of the package and checks it against the manifest. */
export async function verifyFileStream(store: ObjectStore, prefix: string, manifest: PackageManifest, name: string): Promise<void> {
  const base = withSlash(prefix);
  checkFile(manifest, packageLabel(store, base), name, await digestStream(await store.stream(base + name)));
}

/**
 * Verifies every file of the package against its manifest by streaming it (what registration and promotion
 * check; loading checks the bytes it parses instead, see readModelPackage). Null when the package has no
 * manifest and that is allowed.
 */
export async function verifyPackageFiles(store: ObjectStore, prefix: string, trust: PackageTrust = {}): Promise<VerifiedManifest | null> {
  const base = withSlash(prefix);
  const verified = await readManifest(store, base, trust);
  if (!verified) return null;
  for (const file of await checkListing(store, base, verified.manifest)) await verifyFileStream(store, base, verified.manifest, file.key);
  return verified;
}
