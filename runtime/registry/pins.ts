/** Where versions are pinned: each environment's `model_version` (config/environments/<env>.json, what `mlstack promote` writes). */
import { ENVIRONMENTS, type ProjectConfig } from '../../config/schema';

/** Each environment's pinned version (null when none is pinned). */
export function pinnedVersions(config: Pick<ProjectConfig, 'environments'>): Record<string, string | null> {
  return Object.fromEntries(ENVIRONMENTS.map((env) => [env, config.environments[env]?.model_version ?? null]));
}

/** The environments that pin `version`. */
export function pinnedIn(pinned: Record<string, string | null>, version: string): string[] {
  return Object.entries(pinned)
    .filter(([, v]) => v === version)
    .map(([env]) => env);
}
