/**
 * One error model for the CLI, the containers and the server (the shape of fastify's lib/errors.js):
 * ERROR_CODES is the one catalogue of codes, each with the process exit code, the HTTP status where a
 * server answers it, and a one-line meaning; MlstackError carries a code; exitCodeFor(err) turns any
 * error into an exit code; runMain() runs a main function (bin/mlstack.js and every container entrypoint)
 * and reportError() prints `<name>: <message>` the same way for all of them. docs/errors.md lists the
 * catalogue (test/common/errors.test.ts keeps the two in step).
 *
 * config/, runtime/contract/ and infra/ sit beneath this layer, so their errors (ConfigError,
 * InvalidNameError, the construct and platform limit errors) cannot extend MlstackError: each carries
 * a catalogue `code` and its `exitCode` itself, and exitCodeFor reads them structurally.
 */
import { ENV } from '../contract/env';

/** One catalogue entry. */
export interface ErrorCodeSpec {
  /** The process exit code of a command or container that ends with this error. */
  readonly exitCode: number;
  /** The HTTP status a server answers it with, where one applies. */
  readonly httpStatus?: number;
  /** What the code means, in one line (docs/errors.md shows it). */
  readonly meaning: string;
}

/**
 * Every error code. Exit codes follow the README's contract: 2 when the caller can fix the call (a flag,
 * a variable, the config, the input), 1 for any other failure, 3 for drift found by `mlstack monitor`, 130 for a
 * run stopped by a signal.
 */
export const ERROR_CODES = {
  USAGE: { exitCode: 2, meaning: 'started wrongly: an unknown, missing or malformed flag, argument, command or container variable' },
  CONFIG_INVALID: { exitCode: 2, meaning: 'the project config (config/*.json) or a deployment setting read from it is invalid; every problem is listed with file and key' },
  INPUT_INVALID: { exitCode: 2, httpStatus: 400, meaning: 'input rows, a file or a request body that cannot be used as given: malformed, the wrong shape or the wrong types' },
  UNSUPPORTED_MEDIA_TYPE: { exitCode: 2, httpStatus: 415, meaning: 'a request body in a format the server does not read: send application/json or text/csv' },
  PAYLOAD_TOO_LARGE: { exitCode: 2, httpStatus: 413, meaning: 'a body or a batch over the configured limit (serving.max_body_bytes, max_batch_size): split it' },
  PROMOTION_REFUSED: { exitCode: 2, meaning: 'a promotion gate or precondition refused the promotion: fix what it names, or pass --force with --reason' },
  NOT_FOUND: { exitCode: 1, httpStatus: 404, meaning: 'what was named does not exist: an object, a model package, a registry version, a route' },
  METHOD_NOT_ALLOWED: { exitCode: 1, httpStatus: 405, meaning: 'an HTTP method the route does not answer (the predict routes take POST)' },
  ALREADY_EXISTS: { exitCode: 1, httpStatus: 409, meaning: 'an object written once already exists: another writer got there first' },
  HEADERS_TOO_LARGE: { exitCode: 1, httpStatus: 431, meaning: 'request headers larger than node:http accepts' },
  REQUEST_TIMEOUT: { exitCode: 1, httpStatus: 408, meaning: 'a request that did not arrive in full (headers and body) within the server request timeout' },
  EXPECTATION_FAILED: { exitCode: 2, httpStatus: 417, meaning: 'a request with an Expect header other than 100-continue, which the server does not do: send none' },
  MODEL_NOT_READY: { exitCode: 1, httpStatus: 503, meaning: 'the model is still loading (or the server is draining): retry shortly' },
  DATA_QUALITY: { exitCode: 1, meaning: 'ingested data broke a run-wide quality rule or gave no valid rows; the outputs are kept for inspection' },
  TRIGGER_FAILED: { exitCode: 1, meaning: 'the data is written but the training trigger failed; rerun with the same run id to fire it again' },
  CLOUD_CALL_FAILED: { exitCode: 1, meaning: 'a call to a cloud service or a remote API failed for good or was refused (credentials, permissions, retries spent)' },
  COMMAND_FAILED: { exitCode: 1, meaning: 'a program mlstack runs (git, docker) exited with an error; its output is quoted' },
  BACKEND_UNAVAILABLE: { exitCode: 1, meaning: 'no TF.js backend the run needs could load: a GPU the environment requires, or none at all' },
  PACKAGE_INVALID: {
    exitCode: 1,
    meaning: 'a model package failed its check: a file differs from manifest.json (or is missing or extra), the manifest from its registry record, or a file from its schema; never served',
  },
  JOB_INPUT_INVALID: {
    exitCode: 1,
    meaning: "a platform job's inputs (data channel, hyperparameters, the platform's config files) are missing or unusable; 1, as the platforms treat every failure alike",
  },
  DRIFT_DETECTED: { exitCode: 3, meaning: 'mlstack monitor found drift: a metric over its threshold for a feature or the prediction; the result and the HTML report name each one' },
  ABORTED: { exitCode: 130, meaning: 'stopped by a signal before it finished; what was saved (checkpoints, trials) stays and a rerun resumes' },
  INTERNAL: { exitCode: 1, httpStatus: 500, meaning: `a fault in mlstack itself (a broken invariant); the message and, with ${ENV.debug}=1, the stack say where` },
} as const satisfies Record<string, ErrorCodeSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The HTTP status of a catalogue code that has one. */
export type HttpErrorCode = { [C in ErrorCode]: (typeof ERROR_CODES)[C] extends { httpStatus: number } ? C : never }[ErrorCode];

/** The HTTP status the catalogue gives `code`. */
export function httpStatusOf(code: HttpErrorCode): number {
  return (ERROR_CODES[code] as ErrorCodeSpec).httpStatus as number;
}

export interface MlstackErrorOptions {
  /** The error this one wraps (`err.cause`). */
  cause?: unknown;
  /**
   * An exit code more specific than the catalogue's, for one error instance: a run stopped by SIGTERM
   * exits 143 (128 + 15), where ABORTED's catalogue code (130) is for SIGINT.
   */
  exitCode?: number;
}

/** The base of mlstack's errors: a catalogue code, with the exit code and HTTP status the catalogue gives it. */
export class MlstackError extends Error {
  readonly code: ErrorCode;
  readonly exitCode: number;
  readonly httpStatus?: number;

  constructor(code: ErrorCode, message: string, options: MlstackErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'MlstackError';
    this.code = code;
    const spec: ErrorCodeSpec = ERROR_CODES[code];
    this.exitCode = options.exitCode ?? spec.exitCode;
    if (spec.httpStatus !== undefined) this.httpStatus = spec.httpStatus;
  }
}

/** A user error (a bad flag, a missing input): printed without a stack trace, exit code 2. */
export class UsageError extends MlstackError {
  constructor(message: string, options?: MlstackErrorOptions) {
    super('USAGE', message, options);
    this.name = 'UsageError';
  }
}

/** A setting read from the project config that cannot work (exit 2); config/load.ts's ConfigError covers schema problems. */
export class ConfigInvalidError extends MlstackError {
  constructor(message: string, options?: MlstackErrorOptions) {
    super('CONFIG_INVALID', message, options);
    this.name = 'ConfigInvalidError';
  }
}

/** Data or a body that cannot be used as given (exit 2, HTTP 400). */
export class InvalidInputError extends MlstackError {
  constructor(message: string, options?: MlstackErrorOptions) {
    super('INPUT_INVALID', message, options);
    this.name = 'InvalidInputError';
  }
}

/** What was named does not exist (exit 1, HTTP 404). */
export class NotFoundError extends MlstackError {
  constructor(message: string, options?: MlstackErrorOptions) {
    super('NOT_FOUND', message, options);
    this.name = 'NotFoundError';
  }
}

/** A cloud or remote API call that failed for good or was refused (exit 1). */
export class CloudCallError extends MlstackError {
  constructor(message: string, options?: MlstackErrorOptions) {
    super('CLOUD_CALL_FAILED', message, options);
    this.name = 'CloudCallError';
  }
}

/** A broken invariant: a fault in mlstack, not in what it was given (exit 1, HTTP 500). */
export class InternalError extends MlstackError {
  constructor(message: string, options?: MlstackErrorOptions) {
    super('INTERNAL', message, options);
    this.name = 'InternalError';
  }
}

/** An error that carries a catalogue code and exit code itself (the layers beneath this one: ConfigError, InvalidNameError). */
interface CodedError {
  code: string;
  exitCode: number;
}

function isCoded(err: unknown): err is CodedError {
  return typeof err === 'object' && err !== null && typeof (err as CodedError).code === 'string' && typeof (err as CodedError).exitCode === 'number';
}

/** commander's CommanderError codes for output it was asked for: `--help`, `help`, `--version`. */
const COMMANDER_DISPLAYED = new Set(['commander.helpDisplayed', 'commander.help', 'commander.version']);

/**
 * commander's errors (they carry `commander.*` codes; recognised by shape, so this module does not load
 * commander): 0 for help or the version shown on request; 2 for every usage error, commander's own 1 for an
 * unknown option, unknown command, missing required option, excess argument or invalid choice included,
 * and for the help a bare `mlstack` prints (`commander.help` with exit code 1).
 */
function commanderExitCode(err: CodedError): number {
  return COMMANDER_DISPLAYED.has(err.code) && err.exitCode === 0 ? 0 : 2;
}

function isCommanderError(err: unknown): err is CodedError {
  return isCoded(err) && err.code.startsWith('commander.');
}

/** The process exit code for an error: its catalogue exit code; commander's per commanderExitCode; 1 for anything else. */
export function exitCodeFor(err: unknown): number {
  if (err instanceof MlstackError) return err.exitCode;
  if (isCommanderError(err)) return commanderExitCode(err);
  if (isCoded(err) && err.code in ERROR_CODES) return err.exitCode;
  return 1;
}

/** Where reportError writes, and the variables it reads (MLSTACK_DEBUG). */
export interface ReportIo {
  stderr?: { write(text: string): unknown };
  env?: NodeJS.ProcessEnv;
}

/**
 * Prints `<name>: <message>` on stderr (the stack too when MLSTACK_DEBUG is set) and returns exitCodeFor(err).
 * commander has already printed its own errors (and the help), so they print nothing more here.
 */
export function reportError(name: string, err: unknown, { stderr = process.stderr, env = process.env }: ReportIo = {}): number {
  if (!isCommanderError(err)) {
    stderr.write(`${name}: ${err instanceof Error ? err.message : String(err)}\n`);
    if (env[ENV.debug] && err instanceof Error && err.stack) stderr.write(`${err.stack}\n`);
  }
  return exitCodeFor(err);
}

export interface RunMainOptions extends ReportIo {
  /**
   * End the process once `main` has settled and stdout and stderr have flushed, for a main that leaves
   * handles open (TF.js, a drained server's timers). Without it the process ends when its work does.
   */
  exit?: boolean;
}

function flushed(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    if (!stream.writable) return resolve();
    stream.write('', () => resolve());
  });
}

/**
 * Runs a program's main: bin/mlstack.js's CLI and every container entrypoint. `main` resolves to the exit
 * code (or nothing, for 0); a throw or rejection is reported by reportError. Sets process.exitCode and
 * resolves to it; never calls process.exit while output is pending (with `exit`, only after both streams flush).
 */
export async function runMain(name: string, main: () => Promise<number | void> | number | void, options: RunMainOptions = {}): Promise<number> {
  let code: number;
  try {
    const result = await main();
    code = typeof result === 'number' ? result : 0;
  } catch (err) {
    code = reportError(name, err, options);
  }
  process.exitCode = code;
  if (options.exit) {
    await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
    process.exit(code);
  }
  return code;
}
