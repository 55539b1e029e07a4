/**
 * Helpers the GitHub workflows run (`node bin/run-ts.js runtime/promotion/ci-main.ts <command>`):
 *   changed-envs --base <ref> --head <ref> [--github-output <file>] [--repo-dir <dir>] [--config-dir <dir>]
 *   diff-comment --out <file> [--heading <text>] --section "<title>=<file>" ...
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_CONFIG_DIR, loadProjectConfig } from '../../config/load';
import { summarizeChanges, githubOutputs, type ChangeSummary } from './changed-envs';
import { formatDiffComment, type DiffSection } from './diff-comment';
import { Git } from './git';
import { reportError, UsageError } from '../common/errors';

export interface CiIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const NULL_SHA = /^0{40}$/;

function parseFlags(args: string[]): Map<string, string[]> {
  const flags = new Map<string, string[]>();
  for (let i = 0; i < args.length; i++) {
    const name = args[i];
    if (!name.startsWith('--') || i + 1 >= args.length) throw new UsageError(`expected "--flag value", found "${name}"`);
    flags.set(name.slice(2), [...(flags.get(name.slice(2)) ?? []), args[++i]]);
  }
  return flags;
}

/**
 * Files changed between base and head (merge-base diff, as a pull request shows it).
 * Returns null when the base is unknown (first push of a branch, force push): the caller deploys everything.
 */
export async function changedFiles(repoDir: string, base: string, head: string): Promise<string[] | null> {
  if (base === '' || NULL_SHA.test(base)) return null;
  const git = new Git(repoDir);
  if ((await git.tryRun(['cat-file', '-e', `${base}^{commit}`])) === null) return null;
  const out = await git.run(['diff', '--name-only', `${base}...${head}`]);
  return out.split('\n').filter(Boolean);
}

export async function runChangedEnvs(flags: Map<string, string[]>, io: CiIo): Promise<ChangeSummary> {
  const base = flags.get('base')?.[0] ?? '';
  const head = flags.get('head')?.[0] ?? 'HEAD';
  const repoDir = flags.get('repo-dir')?.[0] ?? '.';
  const files = await changedFiles(repoDir, base, head);
  if (files === null) io.stderr(`base "${base}" is not a known commit: treating every environment as changed\n`);
  // The head's config says which clouds each environment has stacks on.
  const summary = summarizeChanges(files ?? ['config/pipeline.json'], loadProjectConfig(path.join(repoDir, flags.get('config-dir')?.[0] ?? DEFAULT_CONFIG_DIR)));
  const outputs = githubOutputs(summary);
  const lines = Object.entries(outputs).map(([key, value]) => `${key}=${value}\n`).join('');
  io.stdout(lines);
  const outputFile = flags.get('github-output')?.[0];
  if (outputFile) fs.appendFileSync(outputFile, lines);
  return summary;
}

export function runDiffComment(flags: Map<string, string[]>): void {
  const out = flags.get('out')?.[0];
  if (!out) throw new UsageError('diff-comment needs --out <file>');
  const sections: DiffSection[] = (flags.get('section') ?? []).map((spec) => {
    const eq = spec.indexOf('=');
    if (eq <= 0) throw new UsageError(`--section "${spec}": expected "<title>=<file>"`);
    const file = spec.slice(eq + 1);
    const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : `(${file} was not written: the step before failed)`;
    return { title: spec.slice(0, eq), text };
  });
  fs.writeFileSync(out, formatDiffComment(flags.get('heading')?.[0] ?? 'Infrastructure diff', sections));
}

/** Resolves to the exit code: the catalogue's (2 for a bad invocation or config, 1 for a failed git call). */
export async function runCi(argv: string[], io: CiIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    const flags = parseFlags(rest);
    if (command === 'changed-envs') await runChangedEnvs(flags, io);
    else if (command === 'diff-comment') runDiffComment(flags);
    else throw new UsageError(`unknown command "${command ?? ''}": use changed-envs or diff-comment`);
    return 0;
  } catch (err) {
    return reportError('ci', err, { stderr: { write: (text: string) => (io.stderr(text), true) } });
  }
}
