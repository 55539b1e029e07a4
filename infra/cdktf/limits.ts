/**
 * Configuration a platform cannot run (a GPU count Cloud Run cannot attach, a retired Azure VM size):
 * found at synth time, all problems of all environments reported together, the way NameChecker
 * reports names, so nothing fails half-way through a deploy.
 */

/** One config value the platform refuses, with the platform's limit in words. */
export interface LimitProblem {
  /** Environment whose config holds the value. */
  env: string;
  /** Config key, e.g. "gcp.training.max_runtime_seconds". */
  key: string;
  value: string;
  /** The platform's limit and what to do, e.g. "Cloud Run GPU job tasks run at most 3600 s". */
  limit: string;
}

/** Carries its catalogue code itself, like config's ConfigError (infra does not import runtime/common). */
export class PlatformLimitError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly exitCode = 2;

  constructor(readonly problems: LimitProblem[]) {
    super(
      `configuration the platform cannot run (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems
          .map((p) => `  env ${p.env}: ${p.key} = ${p.value}: ${p.limit}; change it in config/environments/${p.env}.json`)
          .join('\n'),
    );
    this.name = 'PlatformLimitError';
  }
}

/** Collects the limit problems of one environment. */
export class LimitChecker {
  readonly problems: LimitProblem[] = [];

  constructor(private readonly env: string) {}

  fail(key: string, value: unknown, limit: string): void {
    this.problems.push({ env: this.env, key, value: typeof value === 'string' ? `"${value}"` : String(value), limit });
  }

  throwIfAny(): void {
    if (this.problems.length > 0) throw new PlatformLimitError([...this.problems]);
  }
}

/** Throws a PlatformLimitError listing `problems`, when there are any. */
export function assertWithinLimits(problems: LimitProblem[]): void {
  if (problems.length > 0) throw new PlatformLimitError(problems);
}
