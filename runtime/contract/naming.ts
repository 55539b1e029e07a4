/**
 * Resource names derived from config, checked against each cloud's naming rules
 * at synth time so a bad name fails here instead of half-way through a deploy.
 */

/** One name that cannot be valid, with enough context to fix the config. */
export interface NameProblem {
  /** Environment whose config produced the name. */
  env: string;
  /** Config key (or derivation) the name comes from, e.g. "azure.storage.bucket". */
  key: string;
  /** The rule in words, e.g. "3-24 lowercase letters and digits". */
  rule: string;
  value: string;
}

export class InvalidNameError extends Error {
  constructor(readonly problems: NameProblem[]) {
    super(
      `invalid resource name${problems.length === 1 ? '' : 's'} (${problems.length}):\n` +
        problems
          .map((p) => `  env ${p.env}: ${p.key}: "${p.value}" breaks the rule: ${p.rule}; change it in config/environments/${p.env}.json`)
          .join('\n'),
    );
    this.name = 'InvalidNameError';
  }
}

/** A naming rule: a description shown to the user and a predicate. */
export interface NameRule {
  rule: string;
  test: (value: string) => boolean;
}

export function patternRule(rule: string, pattern: RegExp, extra?: (value: string) => boolean): NameRule {
  return { rule, test: (value) => pattern.test(value) && (extra === undefined || extra(value)) };
}

/**
 * Collects name problems for one environment and throws them together, so the
 * user sees every bad name in one run (the way config/load.ts reports config).
 */
export class NameChecker {
  private readonly problems: NameProblem[] = [];

  constructor(private readonly env: string) {}

  /** Returns `value` unchanged; records a problem when it breaks `rule`. */
  check(key: string, value: string, rule: NameRule): string {
    if (!rule.test(value)) this.problems.push({ env: this.env, key, rule: rule.rule, value });
    return value;
  }

  /** Records a problem that is not about a name's characters (e.g. a GPU type). */
  fail(key: string, value: string, rule: string): void {
    this.problems.push({ env: this.env, key, rule, value });
  }

  throwIfAny(): void {
    if (this.problems.length > 0) throw new InvalidNameError([...this.problems]);
  }
}
