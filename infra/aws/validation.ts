import type { IConstruct } from 'constructs';

/** One invalid property of a construct, named by the config key it is normally read from. */
export interface PropProblem {
  /** The construct prop, e.g. `instanceType`. */
  readonly prop: string;
  /** The config key the prop is read from, e.g. `aws.training.instance_type`. */
  readonly configKey: string;
  readonly message: string;
}

/** Thrown by a construct constructor when its props are invalid; lists every problem at once. */
export class ConstructPropsError extends Error {
  constructor(
    readonly constructPath: string,
    readonly problems: readonly PropProblem[],
    readonly configFile?: string,
  ) {
    super(
      `${constructPath}: invalid configuration${configFile ? ` in ${configFile}` : ''} ` +
        `(${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problems.map((p) => `  ${p.configKey} (prop ${p.prop}): ${p.message}`).join('\n'),
    );
    this.name = 'ConstructPropsError';
  }
}

/**
 * Collects problems while a constructor checks its props, then throws them
 * together (the way aws-s3's Bucket validates), so a user fixes all in one pass.
 */
export class PropsValidator {
  private readonly problems: PropProblem[] = [];

  constructor(
    private readonly scope: IConstruct,
    private readonly configFile?: string,
  ) {}

  /** Records a problem when `condition` is false. */
  check(condition: boolean, prop: string, configKey: string, message: string): void {
    if (!condition) this.problems.push({ prop, configKey, message });
  }

  throwIfInvalid(): void {
    if (this.problems.length > 0) throw new ConstructPropsError(this.scope.node.path, this.problems, this.configFile);
  }
}

/** True for a plain (non-token) value: constructs validate only what is known at synth time. */
export function isConcrete(value: unknown): boolean {
  return !(typeof value === 'string' && value.includes('${Token['));
}
