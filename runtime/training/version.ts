import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { ENV } from '../contract/env';

let cached: string | undefined;

/** The code version recorded in lineage: ENV.codeVersion (set in images), else version+git commit, else the package version. */
export function codeVersion(): string {
  if (cached) return cached;
  const fromEnv = process.env[ENV.codeVersion];
  if (fromEnv) return (cached = fromEnv);
  const root = path.resolve(__dirname, '..', '..');
  const git = spawnSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, encoding: 'utf8' });
  const version = (require(path.join(root, 'package.json')) as { version: string }).version;
  cached = git.status === 0 && git.stdout.trim() ? `${version}+${git.stdout.trim()}` : version;
  return cached;
}
