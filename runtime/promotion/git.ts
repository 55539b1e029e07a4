import { execFile } from 'node:child_process';
import { MlstackError } from '../common/errors';

export class GitError extends MlstackError {
  constructor(
    readonly args: string[],
    readonly stderr: string,
  ) {
    super('COMMAND_FAILED', `git ${args.join(' ')} failed: ${stderr.trim() || 'no output'}`);
    this.name = 'GitError';
  }
}

/** Runs the real git binary in one repository; `env` adds variables (e.g. GIT_INDEX_FILE). */
export class Git {
  constructor(readonly dir: string) {}

  run(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = execFile(
        'git',
        args,
        { cwd: this.dir, env: { ...process.env, ...options.env }, maxBuffer: 32 * 1024 * 1024 },
        (err, stdout, stderr) => {
          if (err) reject(new GitError(args, stderr || err.message));
          else resolve(stdout);
        },
      );
      // git may exit before reading stdin (e.g. on an error); that is reported through the callback.
      child.stdin?.on('error', () => undefined);
      if (options.input !== undefined) child.stdin?.end(options.input);
      else child.stdin?.end();
    });
  }

  /** Like run, but resolves to null instead of rejecting (for probes such as "does this ref exist"). */
  async tryRun(args: string[]): Promise<string | null> {
    try {
      return await this.run(args);
    } catch (err) {
      if (err instanceof GitError) return null;
      throw err;
    }
  }
}
