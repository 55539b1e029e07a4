import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../../config/load';
import {
  ERROR_CODES,
  exitCodeFor,
  httpStatusOf,
  MlstackError,
  NotFoundError,
  reportError,
  runMain,
  UsageError,
  type ErrorCode,
} from '../../runtime/common/errors';
import { InvalidNameError } from '../../runtime/contract/naming';
import { InputError } from '../../runtime/serving/predictor';

const CODES = Object.keys(ERROR_CODES) as ErrorCode[];

/** What commander throws (with exitOverride) for `args` on a small program with one command. */
function commanderError(args: string[]): CommanderError {
  const program = new Command('tool').exitOverride().version('1.2.3').configureOutput({ writeOut: () => undefined, writeErr: () => undefined });
  program.command('run').requiredOption('--env <env>', 'environment').option('--n <n>', 'a number').action(() => undefined);
  program.command('group').command('leaf').action(() => undefined);
  try {
    program.parse(args, { from: 'user' });
  } catch (err) {
    return err as CommanderError;
  }
  throw new Error(`commander accepted ${args.join(' ')}`);
}

function captured(): { stream: { write(text: string): boolean }; text: () => string } {
  let text = '';
  return { stream: { write: (chunk: string) => ((text += chunk), true) }, text: () => text };
}

describe('the error catalogue', () => {
  it.each(CODES)('%s: an MlstackError takes its exit code and HTTP status from the catalogue', (code) => {
    const err = new MlstackError(code, 'what happened');
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe(code);
    expect(exitCodeFor(err)).toBe(ERROR_CODES[code].exitCode);
    expect(err.httpStatus).toBe((ERROR_CODES[code] as { httpStatus?: number }).httpStatus);
  });

  it('gives every code an exit code of 1, 2, 3 (drift, the monitor only) or 128 + a signal, and a one-line meaning', () => {
    for (const code of CODES) {
      const { exitCode, meaning } = ERROR_CODES[code];
      expect({ code, ok: [1, 2].includes(exitCode) || exitCode > 128 || (code === 'DRIFT_DETECTED' && exitCode === 3) }).toEqual({ code, ok: true });
      expect(meaning).not.toMatch(/\n/);
    }
    expect(ERROR_CODES.ABORTED.exitCode).toBe(130);
  });

  it('keeps a subclass name and message, and carries a cause and a more specific exit code', () => {
    const cause = new Error('ENOENT');
    const err = new UsageError('--model x does not exist', { cause });
    expect(err).toBeInstanceOf(MlstackError);
    expect({ name: err.name, message: err.message, code: err.code, exitCode: err.exitCode, cause: err.cause }).toEqual({
      name: 'UsageError',
      message: '--model x does not exist',
      code: 'USAGE',
      exitCode: 2,
      cause,
    });
    expect(new NotFoundError('gone').name).toBe('NotFoundError');
    expect(exitCodeFor(new MlstackError('ABORTED', 'stopped by SIGTERM', { exitCode: 143 }))).toBe(143);
  });

  it("gives the server's client errors the catalogue's status", () => {
    expect(new InputError('INPUT_INVALID', 'bad').status).toBe(400);
    expect(new InputError('PAYLOAD_TOO_LARGE', 'big').status).toBe(413);
    expect(new InputError('UNSUPPORTED_MEDIA_TYPE', 'xml').status).toBe(415);
    expect([httpStatusOf('NOT_FOUND'), httpStatusOf('METHOD_NOT_ALLOWED'), httpStatusOf('MODEL_NOT_READY'), httpStatusOf('INTERNAL')]).toEqual([404, 405, 503, 500]);
  });
});

describe('exitCodeFor', () => {
  it('reads the code of an error from the layers beneath runtime/common by its shape (config cannot import it)', () => {
    const config = new ConfigError([{ file: 'config/pipeline.json', keyPath: 'target', message: 'expected string, found 1' }]);
    expect(config).not.toBeInstanceOf(MlstackError);
    expect({ code: config.code, exit: exitCodeFor(config) }).toEqual({ code: 'CONFIG_INVALID', exit: 2 });
    const names = new InvalidNameError([{ env: 'dev', key: 'azure.storage.bucket', rule: '3-24 lowercase letters and digits', value: 'Bad_Name' }]);
    expect(exitCodeFor(names)).toBe(2);
  });

  it('gives commander 0 for help and version shown on request and 2 for every usage error', () => {
    const cases: Array<[string[], string, number]> = [
      [['--help'], 'commander.helpDisplayed', 0],
      [['help'], 'commander.help', 0],
      [['--version'], 'commander.version', 0],
      [[], 'commander.help', 2],
      [['group'], 'commander.help', 2],
      [['frobnicate'], 'commander.unknownCommand', 2],
      [['run', '--env', 'dev', '--bogus'], 'commander.unknownOption', 2],
      [['run'], 'commander.missingMandatoryOptionValue', 2],
      [['run', '--env', 'dev', 'extra'], 'commander.excessArguments', 2],
      [['run', '--env'], 'commander.optionMissingArgument', 2],
    ];
    for (const [args, code, exit] of cases) {
      const err = commanderError(args);
      expect({ args, code: err.code, exit: exitCodeFor(err) }).toEqual({ args, code, exit });
    }
    expect(exitCodeFor(new CommanderError(1, 'commander.invalidArgument', "option '--format <f>' argument 'x' is invalid"))).toBe(2);
  });

  it('gives anything else 1', () => {
    expect(exitCodeFor(new Error('boom'))).toBe(1);
    expect(exitCodeFor(Object.assign(new Error('no such file'), { code: 'ENOENT' }))).toBe(1);
    expect(exitCodeFor({ code: 'SOMETHING_ELSE', exitCode: 7 })).toBe(1);
    expect(exitCodeFor('a string')).toBe(1);
    expect(exitCodeFor(undefined)).toBe(1);
  });
});

describe('reportError and runMain', () => {
  it('prints one line, and the stack only with MLSTACK_DEBUG', () => {
    const plain = captured();
    expect(reportError('mlstack-ingest', new UsageError('MLSTACK_CLOUD is not set'), { stderr: plain.stream, env: {} })).toBe(2);
    expect(plain.text()).toBe('mlstack-ingest: MLSTACK_CLOUD is not set\n');
    const debug = captured();
    expect(reportError('mlstack', new Error('boom'), { stderr: debug.stream, env: { MLSTACK_DEBUG: '1' } })).toBe(1);
    expect(debug.text()).toMatch(/^mlstack: boom\nError: boom\n\s+at /);
  });

  it("prints nothing more for commander's errors: commander has printed them", () => {
    const out = captured();
    expect(reportError('mlstack', commanderError(['frobnicate']), { stderr: out.stream, env: {} })).toBe(2);
    expect(out.text()).toBe('');
  });

  it("sets process.exitCode from main's result or its error", async () => {
    const before = process.exitCode;
    try {
      expect(await runMain('x', () => 3)).toBe(3);
      expect(process.exitCode).toBe(3);
      expect(await runMain('x', async () => undefined)).toBe(0);
      const out = captured();
      expect(await runMain('x', async () => Promise.reject(new NotFoundError('model v9 is not registered')), { stderr: out.stream, env: {} })).toBe(1);
      expect(out.text()).toBe('x: model v9 is not registered\n');
      expect(
        await runMain(
          'x',
          () => {
            throw new ConfigError([]);
          },
          { stderr: captured().stream },
        ),
      ).toBe(2);
      expect(process.exitCode).toBe(2);
    } finally {
      process.exitCode = before;
    }
  });
});

describe('docs/errors.md', () => {
  const doc = fs.readFileSync(path.resolve(__dirname, '../../docs/errors.md'), 'utf8');
  /** The catalogue table's rows: code -> [exit, HTTP]. */
  const rows = new Map(
    [...doc.matchAll(/^\| `([A-Z_]+)` \| (\d+) \| (\d+|–) \| .+ \|$/gm)].map((m) => [m[1], { exitCode: Number(m[2]), httpStatus: m[3] === '–' ? undefined : Number(m[3]) }]),
  );

  it('lists every code of the catalogue with its exit code and HTTP status, and no other', () => {
    expect([...rows.keys()].sort()).toEqual([...CODES].sort());
    for (const code of CODES) {
      const spec = ERROR_CODES[code] as { exitCode: number; httpStatus?: number };
      expect({ code, ...rows.get(code) }).toEqual({ code, exitCode: spec.exitCode, httpStatus: spec.httpStatus });
    }
  });
});
