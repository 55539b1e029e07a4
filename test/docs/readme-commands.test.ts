/**
 * The README's commands, run in order as a new user runs them: in one checkout, one workdir (the default
 * `.mlstack`), with ../shared beside it. The checkout is a folder of links to this repository's top-level entries
 * (everything but `.mlstack`), so the test starts from an empty workdir without copying node_modules.
 *
 * `npm ci` and `npm test` are the two README commands not run here: the first is what made this tree, the second
 * is what is running this test.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_WORKDIR } from '../../runtime/contract/layout';
import { makeTempDir } from '../helpers/tmp';

const ROOT = path.resolve(__dirname, '../..');
const README = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const NOT_LINKED = new Set([DEFAULT_WORKDIR, '.git', 'coverage', 'cdktf.out', 'cdk.out']);

/** The shell commands of the README's ```bash blocks between two headings, comments stripped. */
function readmeCommands(from: string, to: string): string[] {
  const section = README.slice(README.indexOf(from), README.indexOf(to));
  const blocks = [...section.matchAll(/```bash\n([\s\S]*?)```/g)].map((m) => m[1]);
  return blocks.flatMap((block) => block.split('\n')).map((line) => line.replace(/\s+#.*$/, '').trim()).filter(Boolean);
}

function checkout(): string {
  const dir = makeTempDir('mlstack-readme-');
  const repo = path.join(dir, 'repo');
  fs.mkdirSync(repo);
  for (const entry of fs.readdirSync(ROOT)) {
    if (!NOT_LINKED.has(entry)) fs.symlinkSync(path.join(ROOT, entry), path.join(repo, entry));
  }
  fs.symlinkSync(path.resolve(ROOT, '../shared'), path.join(dir, 'shared'));
  return repo;
}

function sh(command: string, cwd: string): { status: number | null; stdout: string; stderr: string } {
  const { MLSTACK_LOG_LEVEL: _level, ...env } = process.env;
  const run = spawnSync('bash', ['-c', command], { cwd, env, encoding: 'utf8', timeout: 400_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

describe('the README, run in order', () => {
  const commands = readmeCommands('## Quickstart', '## CLI reference');

  it('finds the quickstart and the real-dataset commands', () => {
    expect(commands[0]).toBe('npm ci');
    expect(commands).toContain('npm start');
    expect(commands.some((c) => c.startsWith('npx mlstack pipeline') && c.includes('docs/examples/adult'))).toBe(true);
  });

  it('every command exits 0 in one checkout and one workdir, and the two projects there keep apart', () => {
    const repo = checkout();
    const runnable = commands.filter((c) => !/^npm (ci|test)\b/.test(c));
    for (const command of runnable) {
      const run = sh(command, repo);
      if (run.status !== 0) throw new Error(`README command \`${command}\` exited ${run.status}:\n${run.stderr.slice(-3000)}`);
    }
    // npm start registered the sample project's v1 and the adult command its own v1, side by side in .mlstack.
    const registry = path.join(repo, DEFAULT_WORKDIR, 'registry');
    expect(fs.readdirSync(registry).sort()).toEqual(['adult-income', 'mlstack']);
    for (const project of ['adult-income', 'mlstack']) {
      expect(fs.readdirSync(path.join(registry, project, 'versions'))).toEqual(['v1.json']);
    }

    // Every later lookup is scoped by the config's project: batch scores with the adult model, train without
    // --data finds the adult run (not the newer sample one) and registers v2 of adult-income.
    const adult = '--config-dir docs/examples/adult';
    fs.writeFileSync(path.join(repo, '..', 'rows.csv'), fs.readFileSync(path.join(repo, '../shared/data/adult.csv'), 'utf8').split('\n').slice(0, 51).join('\n'));
    const batch = sh(`npx mlstack batch --model v1 ${adult} --input ../rows.csv --output ../scored.csv`, repo);
    expect(batch.stderr).toBe('');
    expect(batch.status).toBe(0);
    expect(fs.readFileSync(path.join(repo, '..', 'scored.csv'), 'utf8').trim().split('\n')).toHaveLength(51);

    const trained = sh(`npx mlstack train --env dev --cloud local ${adult} --epochs 1 --register --json`, repo);
    expect(trained.stderr).toBe('');
    expect(trained.status).toBe(0);
    const result = JSON.parse(trained.stdout);
    expect(result.dataUri).toContain('/data/processed/adult-income/');
    expect(result.packagePrefix).toMatch(/^models\/adult-income\/runs\//);
    expect(result.version).toBe('v2');
    expect(fs.readdirSync(path.join(registry, 'mlstack', 'versions'))).toEqual(['v1.json']);
  }, 900_000);
});
