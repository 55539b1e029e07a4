/**
 * `evaluate --compare <version>`: the same rows scored by another registry version, for the report's side-by-side;
 * without --compare, the version pinned in the target environment (config/environments/<env>.json `model_version`).
 */
import { UsageError } from '../common/errors';
import { readModelPackage } from '../model/package';
import type { Row } from './data';
import { evaluatePackage } from './evaluate';
import { resolvePackage, type EnvironmentContext } from './locate';

export interface ComparedVersion {
  version: string;
  metrics: Record<string, number>;
}

/** The version to compare with: the one asked for, else the environment's pinned one unless that is the evaluated model. */
export function comparisonVersion(ctx: EnvironmentContext | null, evaluated: string, requested: string | undefined): string | null {
  if (requested !== undefined) {
    if (!ctx) throw new UsageError(`--compare ${requested} names a registry version: pass --env (and --cloud) to say which registry`);
    return requested;
  }
  const pinned = ctx?.project.environments[ctx.envName]?.model_version ?? null;
  return pinned !== null && pinned !== evaluated ? pinned : null;
}

/** Scores `rows` with `version` from the environment's registry. */
export async function evaluateVersion(ctx: EnvironmentContext, version: string, rows: Row[], dataLabel: string): Promise<ComparedVersion> {
  const where = await resolvePackage(ctx, version);
  const pkg = await readModelPackage(where.store, where.prefix, { registered: where.registered });
  return { version, metrics: evaluatePackage(pkg, rows, dataLabel).metrics };
}
