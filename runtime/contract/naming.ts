/**
 * Resource names derived from config, checked against each cloud's naming rules
 * at synth time so a bad name fails here instead of half-way through a deploy.
 */
import type { NameRule, ResourceName } from '../../config/naming';

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

/** Names the config gives that a cloud refuses; like config's ConfigError it carries its catalogue code itself (this layer is beneath runtime/common). */
export class InvalidNameError extends Error {
  readonly code = 'CONFIG_INVALID';
  readonly exitCode = 2;

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

// The rules and the names derived from config are config/naming.ts's (config validate checks them too).
export { patternRule, type NameRule } from '../../config/naming';

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

  /** Returns a derived name's value; records a problem when it breaks its rule (a name without one is returned as is). */
  checkName(name: ResourceName): string {
    return name.rule === undefined ? name.value : this.check(name.key, name.value, name.rule);
  }

  /** Records a problem that is not about a name's characters (e.g. a GPU type). */
  fail(key: string, value: string, rule: string): void {
    this.problems.push({ env: this.env, key, rule, value });
  }

  throwIfAny(): void {
    if (this.problems.length > 0) throw new InvalidNameError([...this.problems]);
  }
}
