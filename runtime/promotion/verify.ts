/**
 * The version promoted must verify: its package's files match its manifest.json, the manifest matches the
 * `manifest_sha256` its registry record keeps, and metadata, preprocessing and model.json pass their schemas
 * (runtime/model/manifest.ts, package-schema.ts). A version that fails is never pinned, with or without --force.
 */
import { FIXED_PREFIXES } from '../contract/layout';
import { PackageInvalidError } from '../model/manifest';
import { readModelPackage } from '../model/package';
import { ModelRegistry } from '../registry/index';
import type { RegistryLocation } from './model-source';

/** Records keep package prefixes relative to the store root that holds `registry/`; a location may open the store higher up (file:///dir/registry/). */
function packagesRoot(registryPrefix: string): string {
  return registryPrefix.endsWith(FIXED_PREFIXES.registry) ? registryPrefix.slice(0, -FIXED_PREFIXES.registry.length) : '';
}

/** Reads the version's package the way serving does; throws PackageInvalidError naming the version and the file that fails. */
export async function verifyPromotedVersion(location: RegistryLocation, project: string, version: string): Promise<void> {
  const record = await new ModelRegistry(location.store, location.prefix, project).get(version);
  try {
    await readModelPackage(location.store, packagesRoot(location.prefix) + record.package_prefix, {
      registered: { version: record.version, manifestSha256: record.manifest_sha256 },
    });
  } catch (err) {
    if (err instanceof PackageInvalidError) throw new PackageInvalidError(`${record.version} cannot be promoted: ${err.message}`);
    throw err;
  }
}
