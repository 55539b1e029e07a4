import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { DEFAULT_CONFIG_DIR } from '../../config/load';
import * as defaults from '../../runtime/cli/commands/defaults';
import { buildProgram } from '../../runtime/cli/main';
import { INVOKE_CLOUDS } from '../../runtime/serving/invoke';
import { makeTempDir } from '../helpers/tmp';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin', 'mlstack.js');

/** Preloaded into a child: at exit, writes every module it loaded to the file named by LOADED_MODULES_FILE. */
const REPORT_LOADED = path.join(makeTempDir('mlstack-loaded-'), 'report-loaded.js');
fs.writeFileSync(
  REPORT_LOADED,
  "process.on('exit', () => require('node:fs').writeFileSync(process.env.LOADED_MODULES_FILE, JSON.stringify(Object.keys(require.cache))));\n",
);

interface ChildRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Packages the process loaded code or data from (scoped ones as @scope/name). */
  packages: Set<string>;
  /** Repository files it loaded, relative to the root. */
  sources: string[];
}

/** Runs `node bin/mlstack.js ...args` in a fresh process and reports what it loaded. */
function runBin(args: string[]): ChildRun {
  const report = path.join(makeTempDir('mlstack-loaded-'), 'loaded.json');
  const child = spawnSync(process.execPath, ['--require', REPORT_LOADED, BIN, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, LOADED_MODULES_FILE: report },
  });
  const loaded = JSON.parse(fs.readFileSync(report, 'utf8')) as string[];
  const packages = new Set(loaded.flatMap((file) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(file)?.[1] ?? []));
  const sources = loaded.filter((file) => file.startsWith(ROOT) && !file.includes('node_modules')).map((file) => path.relative(ROOT, file));
  return { status: child.status, stdout: child.stdout, stderr: child.stderr, packages, sources };
}

/** Every command as `mlstack` names it (`config validate`), with the command object. */
function allCommands(program: Command): Array<[string, Command]> {
  const out: Array<[string, Command]> = [];
  const walk = (cmd: Command, prefix: string) => {
    for (const sub of cmd.commands) {
      const name = `${prefix}${sub.name()}`;
      out.push([name, sub]);
      walk(sub, `${name} `);
    }
  };
  walk(program, '');
  return out;
}

describe('mlstack --help', () => {
  const help = runBin(['--help']);

  it('lists every command, and each command its options', () => {
    expect(help.status).toBe(0);
    const commands = allCommands(buildProgram());
    expect(commands.map(([name]) => name)).toEqual(
      expect.arrayContaining(['config validate', 'pipeline', 'ingest', 'train', 'evaluate', 'register', 'tune', 'promote', 'images push', 'serve', 'invoke', 'batch']),
    );
    for (const [name] of commands.filter(([n]) => !n.includes(' '))) expect(help.stdout).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
    for (const [name, command] of commands) {
      const text = command.helpInformation();
      const missing = command.options.map((o) => o.flags).filter((flags) => !text.includes(flags));
      expect({ command: name, missing }).toEqual({ command: name, missing: [] });
    }
  });

  it('loads no TF.js, cloud SDK or config schema: only commander and the command definitions', () => {
    expect([...help.packages].filter((p) => p.startsWith('@tensorflow/'))).toEqual([]);
    expect(help.packages.has('zod')).toBe(false);
    // esbuild only when bin/ts-require.js has a file to compile (a cold cache).
    expect([...help.packages].filter((p) => p !== 'esbuild')).toEqual(['commander']);
    const implementation = help.sources.filter((file) => !/^(bin\/|runtime\/cli\/|runtime\/contract\/|runtime\/common\/errors\.ts$)/.test(file));
    expect(implementation).toEqual([]);
    expect(help.sources).toEqual(expect.arrayContaining(['runtime/cli/commands/train.ts', 'runtime/cli/commands/serve.ts']));
  });
});

describe('a command loads its implementation when it runs', () => {
  it('config validate loads the config schemas (zod) and still no TF.js', () => {
    const run = runBin(['config', 'validate']);
    expect(run.stdout).toMatch(/^config OK: /);
    expect(run.status).toBe(0);
    expect(run.packages.has('zod')).toBe(true);
    expect(run.sources).toContain('config/schema.ts');
    expect([...run.packages].filter((p) => p.startsWith('@tensorflow/'))).toEqual([]);
  });

  it('a usage error raised in an action still exits 2 with its message', () => {
    const run = runBin(['tune', '--env', 'dev', '--cloud', 'moon']);
    expect(run.stderr).toContain('unknown --cloud "moon": expected one of local, aws, gcp, azure');
    expect(run.status).toBe(2);
  });
});

describe('runtime/cli/commands/defaults.ts', () => {
  it('mirrors the values it stands in for (so --help need not import them)', () => {
    expect(defaults.DEFAULT_CONFIG_DIR).toBe(DEFAULT_CONFIG_DIR);
    expect(defaults.INVOKE_CLOUDS).toEqual(INVOKE_CLOUDS);
  });
});
