/**
 * The README's CLI contract: 0 success (and --help, --version), 2 a usage error (commander's included), 1 any
 * other failure; numbers parsed with a message that names the flag.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tuningSchema } from '../../config/schema';
import * as defaults from '../../runtime/cli/commands/defaults';
import { parseWholeNumber } from '../../runtime/cli/commands/options';
import { BATCH_FORMATS } from '../../runtime/serving/batch';
import { runCli } from '../helpers/cli';

const ROOT = path.resolve(__dirname, '../..');
const VERSION = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

/** `node bin/mlstack.js ...args` in a child: the exit code runMain sets, and what it printed. */
function bin(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const child = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'mlstack.js'), ...args], { cwd: ROOT, encoding: 'utf8' });
  return { status: child.status, stdout: child.stdout, stderr: child.stderr };
}

describe('mlstack exit codes (bin/mlstack.js)', () => {
  it('a bare mlstack prints the help on stderr and exits 2', () => {
    const run = bin([]);
    expect(run.status).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/^Usage: mlstack \[options\] \[command\]/);
    expect(run.stderr).toMatch(/^  train\b/m);
  });

  it('--version and -V print package.json\'s version and exit 0', () => {
    for (const flag of ['--version', '-V']) {
      const run = bin([flag]);
      expect({ flag, status: run.status, stdout: run.stdout, stderr: run.stderr }).toEqual({ flag, status: 0, stdout: `${VERSION}\n`, stderr: '' });
    }
  });

  it('--help prints on stdout and exits 0', () => {
    const run = bin(['--help']);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/-V, --version +print the mlstack version/);
  });
});

describe('commander usage errors exit 2', () => {
  it.each([
    ['an unknown command', ['frobnicate'], /error: unknown command 'frobnicate'/],
    ['an unknown option', ['--bogus'], /error: unknown option '--bogus'/],
    ["a command's unknown option", ['config', 'validate', '--bogus'], /error: unknown option '--bogus'/],
    ['a missing required option', ['train', '--cloud', 'local'], /error: required option '--env <env>' not specified/],
    ['an excess argument', ['config', 'validate', 'extra'], /error: too many arguments for 'validate'/],
    ['an invalid option choice', ['tune', '--env', 'dev', '--cloud', 'local', '--strategy', 'grid'], /argument 'grid' is invalid\. Allowed choices are random, successive_halving/],
    ['an option without its value', ['train', '--env'], /error: option '--env <env>' argument missing/],
    ['a command group without its command', ['config'], /^Usage: mlstack config /],
  ])('%s', async (_what, args, message) => {
    const run = await runCli(args);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
  });

  it('help shown on request exits 0', async () => {
    expect((await runCli(['help'])).code).toBe(0);
    expect((await runCli(['train', '--help'])).code).toBe(0);
  });
});

describe('numeric options name the flag', () => {
  it.each([
    [['train', '--env', 'dev', '--cloud', 'local', '--epochs', 'abc'], '--epochs must be a whole number of at least 1, got "abc"'],
    [['train', '--env', 'dev', '--cloud', 'local', '--epochs', '2.5'], '--epochs must be a whole number of at least 1, got "2.5"'],
    [['tune', '--env', 'dev', '--cloud', 'local', '--trials', '0'], '--trials must be a whole number of at least 1, got "0"'],
    [['pipeline', '--env', 'dev', '--sample-rows', '1e3'], '--sample-rows must be a whole number of at least 1, got "1e3"'],
    [['pipeline', '--env', 'dev', '--port', '-1'], '--port must be a whole number from 0 to 65535, got "-1" (0 picks a free port)'],
    [['serve', '--model', 'v1', '--port', 'http'], '--port must be a whole number from 0 to 65535, got "http" (0 picks a free port)'],
    [['serve', '--model', 'v1', '--workers', 'two'], '--workers must be a whole number of at least 1, got "two" (or "auto": one per usable core)'],
    [['batch', '--model', 'v1', '--input', 'a.csv', '--output', 'b.csv', '--chunk-size', 'lots'], '--chunk-size must be a whole number of at least 1, got "lots"'],
  ])('mlstack %j', async (args, message) => {
    const run = await runCli(args);
    expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 2, stderr: `mlstack: ${message}\n` });
  });

  it('accepts digits only, within the range', () => {
    expect(parseWholeNumber('--n', ' 42 ')).toBe(42);
    expect(parseWholeNumber('--port', '0', { max: 65535 })).toBe(0);
    for (const value of ['', ' ', '0x10', '-0', '+3', '1_000', '9007199254740993']) expect(() => parseWholeNumber('--n', value)).toThrow(/--n must be a whole number/);
  });

  it('offers the choices the runtime accepts', () => {
    expect(defaults.TUNING_STRATEGIES).toEqual(tuningSchema.shape.strategy.unwrap().options);
    expect(defaults.BATCH_FORMATS).toEqual(BATCH_FORMATS);
  });
});
