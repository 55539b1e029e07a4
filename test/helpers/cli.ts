import { main } from '../../runtime/cli/main';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the `mlstack` CLI in-process (so coverage counts) and captures what it prints. */
export async function runCli(args: string[]): Promise<CliRun> {
  let stdout = '';
  let stderr = '';
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((stdout += c.toString()), true));
  const err = jest.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((stderr += c.toString()), true));
  try {
    const code = await main(['node', 'mlstack', ...args]);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

/** A long-running command started in-process: the URL it prints, its exit code, and a way to put stdout and stderr back. */
export interface StartedCli {
  url: Promise<string>;
  running: Promise<number>;
  restore(): void;
}

/**
 * Starts `mlstack ...args` in-process, its output captured. `url` resolves with the first `at http://...` it
 * prints (rejects if the command ends first); `running` resolves with its exit code. Call `restore()` when done.
 */
export function startCli(args: string[]): StartedCli {
  let output = '';
  let printed!: (url: string) => void;
  const url = new Promise<string>((resolve) => (printed = resolve));
  const out = jest.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => {
    output += c.toString();
    const m = /at (http:\/\/\S+)/.exec(output);
    if (m) printed(m[1]);
    return true;
  });
  const err = jest.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((output += c.toString()), true));
  const running = main(['node', 'mlstack', ...args]);
  return {
    url: Promise.race([url, running.then((code) => Promise.reject(new Error(`${args[0]} exited ${code}: ${output}`)))]),
    running,
    restore: () => {
      out.mockRestore();
      err.mockRestore();
    },
  };
}

/** `mlstack serve ...args` started in-process (startCli): `url` once the model is loaded. */
export function startServeCli(args: string[]): StartedCli {
  return startCli(['serve', ...args]);
}
