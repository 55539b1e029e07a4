import { Token } from 'aws-cdk-lib';
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
  /** The catalogue code (runtime/common/errors.ts), carried here: infra does not import runtime/common. */
  readonly code = 'CONFIG_INVALID';
  readonly exitCode = 2;

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

  /**
   * Records a problem when `value` is known at synth time and `valid(value)` is false. A token
   * (Token.isUnresolved) is only known at deploy time, so CloudFormation checks it instead.
   */
  checkResolved<T>(value: T, valid: (value: T) => boolean, prop: string, configKey: string, message: string): void {
    if (!Token.isUnresolved(value)) this.check(valid(value), prop, configKey, message);
  }

  /** Records a problem when `value` is known at synth time and does not match `pattern`. */
  checkPattern(value: string, pattern: RegExp, prop: string, configKey: string, message: string): void {
    this.checkResolved(value, (v) => pattern.test(v), prop, configKey, message);
  }

  throwIfInvalid(): void {
    if (this.problems.length > 0) throw new ConstructPropsError(this.scope.node.path, this.problems, this.configFile);
  }
}

/** SageMaker resource names: letters and digits, dashes between them, at most `maxLength` characters. */
export function sageMakerNamePattern(maxLength: number): RegExp {
  return new RegExp(`^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,${maxLength - 1}}$`);
}

/**
 * A job name prefix SageMaker accepts once the job's suffix is added: 1-`maxLength` letters, digits and
 * dashes. `limit` says why, e.g. "SageMaker job names are at most 63 characters".
 */
export function checkJobNamePrefix(v: PropsValidator, prefix: string, maxLength: number, limit: string): void {
  const message = `"${prefix}" must be 1-${maxLength} letters, digits and dashes (${limit})`;
  v.checkPattern(prefix, sageMakerNamePattern(maxLength), 'jobNamePrefix', 'project (pipeline.json) + environment', message);
}
